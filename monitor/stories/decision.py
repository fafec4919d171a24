"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -3.0984
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.5819,  # names
    +2.0292,  # name_share
    +2.8587,  # numbers
    +0.1035,  # dates
    +4.0735,  # headline
    +1.9972,  # text_same_language
    +7.1696,  # text_across_languages
    -0.7343,  # headline_names_missing
    -0.8406,  # headline_numbers_missing
    -1.7119,  # dates_differ
    +0.6155,  # weekdays_shared
    -5.5776,  # days_apart
    +0.0534,  # copy
    +0.6602,  # countries
    +0.5699,  # headline_wording
)
THRESHOLD = 0.48  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
