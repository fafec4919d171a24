"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -2.9710
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.7226,  # names
    +2.0894,  # name_share
    +2.3668,  # numbers
    +0.2996,  # dates
    +4.2312,  # headline
    +1.3637,  # text_same_language
    +7.2245,  # text_across_languages
    -0.6846,  # headline_names_missing
    -0.7915,  # headline_numbers_missing
    -1.7342,  # dates_differ
    +0.6714,  # weekdays_shared
    -5.5269,  # days_apart
    +0.4509,  # copy
    +0.0000,  # countries
    +0.0000,  # headline_wording
)
THRESHOLD = 0.53  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
