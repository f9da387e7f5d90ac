"""Speech to text with faster-whisper (CTranslate2), e.g. Whisper tiny.en shipped in a package."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate.errors import BadRequest
from lockgate.inference.worker import EngineWorker

# faster-whisper decodes the whole file to 16 kHz float32 before transcribing (230 MB an hour) and then
# holds the engine for as long as the audio lasts at its speed: 25 MB of 8 kbit/s audio is 7 hours.
MAX_AUDIO_SECONDS = 2 * 3600


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str
    duration: float
    segments: list[dict[str, Any]]


class WhisperEngine:
    def __init__(self, name: str, model_dir: Path, threads: int = 1, max_seconds: float = MAX_AUDIO_SECONDS):
        self.name = name
        self.max_seconds = max_seconds
        self.threads = threads  # CTranslate2 intra-op threads
        self.model_dir = model_dir
        self.worker = EngineWorker(name)
        self._model: Any = None  # a faster_whisper WhisperModel once loaded

    def load(self) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=self.threads
        )

    def _transcribe(
        self, audio: bytes, language: str | None, prompt: str | None, temperature: float
    ) -> Transcript:
        self._check_duration(audio)
        try:
            segments, info = self._model.transcribe(
                io.BytesIO(audio),
                language=language or None,
                initial_prompt=prompt or None,
                temperature=temperature or 0.0,
                beam_size=1,
                vad_filter=False,
            )
            parts = [
                {
                    "id": index,
                    "seek": segment.seek,
                    "start": round(segment.start, 3),
                    "end": round(segment.end, 3),
                    "text": segment.text,
                    "tokens": list(segment.tokens),
                    "temperature": segment.temperature,
                    "avg_logprob": segment.avg_logprob,
                    "compression_ratio": segment.compression_ratio,
                    "no_speech_prob": segment.no_speech_prob,
                }
                for index, segment in enumerate(segments)
            ]
        except Exception as exc:  # PyAV cannot decode it: the client's file, not our failure
            if type(exc).__module__.startswith(("av", "faster_whisper")) or isinstance(exc, ValueError):
                raise BadRequest(f"file: cannot decode this audio ({exc}).", param="file") from exc
            raise
        text = "".join(p["text"] for p in parts).strip()
        return Transcript(text, info.language, round(info.duration, 3), parts)

    def _check_duration(self, audio: bytes) -> None:
        """400 for audio longer than `max_seconds`, read from the container (no decoding); audio whose
        container does not say is left to the decoder."""
        import av

        try:
            with av.open(io.BytesIO(audio), mode="r") as container:
                seconds = container.duration / av.time_base if container.duration else None
        except Exception as exc:  # any PyAV failure: not an audio file it can read
            raise BadRequest(f"file: cannot decode this audio ({exc}).", param="file") from exc
        if seconds is not None and seconds > self.max_seconds:
            raise BadRequest(
                f"file: {seconds:.0f} s of audio; at most {self.max_seconds:.0f} s are transcribed here.",
                param="file",
            )

    async def transcribe(
        self, audio: bytes, language: str | None = None, prompt: str | None = None, temperature: float = 0.0
    ) -> Transcript:
        async with self.worker.lock:
            return await self.worker.run(self._transcribe, audio, language, prompt, temperature)

    def close(self) -> None:
        self.worker.close()
