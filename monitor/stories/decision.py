"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -4.4163
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.4262,  # names
    +1.6980,  # name_share
    +3.0628,  # numbers
    +0.4575,  # dates
    +2.3712,  # headline
    +2.5427,  # text_same_language
    +6.8971,  # text_across_languages
    -0.6529,  # headline_names_missing
    -0.6927,  # headline_numbers_missing
    -1.6887,  # dates_differ
    +0.7609,  # weekdays_shared
    -6.5087,  # days_apart
    +0.0788,  # copy
    +1.8689,  # countries
    +1.9377,  # headline_wording
)
THRESHOLD = 0.58  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
