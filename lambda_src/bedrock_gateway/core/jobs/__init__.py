"""Jobs: the message contract (:mod:`.contract`), the job store (:mod:`.store`) and result storage
(:mod:`.results`)."""
