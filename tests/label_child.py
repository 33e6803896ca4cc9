"""Child for the SIGKILL test: records label points at 20 Hz into a real SQLite library and
prints how many it has added, until it is killed."""

import sys
import time

from app.labelling.labels import LabelRecorder
from app.library.db import LibraryDB

db = LibraryDB(sys.argv[1])
track_id = db.tracks()[0].id
rec = LabelRecorder(db, track_id, "kim")
t0 = time.monotonic()
i = 0
while True:
    rec.add(i * 0.05, (i % 40) / 40, -(i % 40) / 40)
    i += 1
    print(i, flush=True)
    time.sleep(max(0.0, t0 + i * 0.05 - time.monotonic()))
