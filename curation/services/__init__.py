"""Every write to curation data goes through these functions."""

from curation.services.labels import adjudicate_pair, import_labels, revoke_label
from curation.services.match_feedback import give_match_feedback
from curation.services.learning import refill_queue, train_match_model
from curation.services.queue import answer_pair, claim_next_pair, release_pair, skip_pair, undo_last_answer

__all__ = [
    "adjudicate_pair",
    "answer_pair",
    "claim_next_pair",
    "give_match_feedback",
    "import_labels",
    "refill_queue",
    "release_pair",
    "revoke_label",
    "skip_pair",
    "train_match_model",
    "undo_last_answer",
]
