"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -3.0640
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.5749,  # names
    +1.8328,  # name_share
    +2.9963,  # numbers
    +0.0583,  # dates
    +3.9589,  # headline
    +2.0838,  # text_same_language
    +7.4893,  # text_across_languages
    -0.6762,  # headline_names_missing
    -0.8208,  # headline_numbers_missing
    -1.7256,  # dates_differ
    +0.5635,  # weekdays_shared
    -5.6216,  # days_apart
    +0.0081,  # copy
    +0.6592,  # countries
    +0.6836,  # headline_wording
)
THRESHOLD = 0.47  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
