"""Time in the one unit the APIs speak: integer Unix seconds."""

import time


def now_ts() -> int:
    return int(time.time())
