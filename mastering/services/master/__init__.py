"""The batch mastering job: block, pair (in the database), score, cluster, keep ids, write golden records.

Stages fan out over workers as chunk tasks and fan back in through JobChunk rows:
  run_master_job  plan the run: one blocking chunk per slice of record ids
  block_records   one slice: blocking keys → BlockKey rows; the last slice pairs records by a join on
                  the keys (in the database) and plans one scoring chunk per slice of pairs
  score_pairs     one chunk: load its records, score, store scores; the last chunk starts finish_master
  finish_master   cluster, apply curator edits, assign persistent ids, write entities, memberships, golden
                  records and run changes in one transaction (a dead worker leaves nothing half-written)
"""

from mastering.services.master.blocking import block_records, run_master_job
from mastering.services.master.finish import finish_master
from mastering.services.master.scoring import score_pairs

__all__ = ["block_records", "finish_master", "run_master_job", "score_pairs"]
