"""Business rules of the trials design, one module per concern; import them from here.

- configuration.py: the setup, methods, pool and explanation images, and what keeps a study from launching;
- counterbalancing.py: the counterbalanced plan (pure);
- allocation.py: each participant's trial list, stored at consent;
- answers.py: the instructions' reading time, ratings per trial with revisions, Back, completion;
- pool_generation.py: a pool with explanation images computed by the platform's explanation methods.
"""
from .allocation import trials_allocate
from .answers import (
    INSTRUCTIONS_PAGE,
    TRIALS_PAGE,
    TrialOutOfOrder,
    instructions_leave,
    submission_is_retry,
    trial_answer,
)
from .configuration import (
    complete_pool,
    explanation_image_set,
    pool_image_create,
    setup_problems,
    trial_method_create,
    trial_setup_save,
)
from .counterbalancing import balance_problem, counterbalanced_plan, ordered_pairs

__all__ = [
    "INSTRUCTIONS_PAGE", "TRIALS_PAGE", "TrialOutOfOrder", "balance_problem", "complete_pool",
    "counterbalanced_plan", "explanation_image_set", "instructions_leave", "ordered_pairs", "pool_image_create",
    "setup_problems", "submission_is_retry", "trial_answer", "trial_method_create", "trial_setup_save",
    "trials_allocate",
]
