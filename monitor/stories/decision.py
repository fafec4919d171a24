"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -2.9798
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.6978,  # names
    +2.0725,  # name_share
    +2.3623,  # numbers
    +0.2930,  # dates
    +4.3073,  # headline
    +1.3985,  # text_same_language
    +7.2503,  # text_across_languages
    -0.6599,  # headline_names_missing
    -0.7614,  # headline_numbers_missing
    -1.7332,  # dates_differ
    +0.6643,  # weekdays_shared
    -5.4677,  # days_apart
    +0.4333,  # copy
)
THRESHOLD = 0.53  # best out-of-fold F0.5 (precision first) that keeps the seeds and the story corpus
