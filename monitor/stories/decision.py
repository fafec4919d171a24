"""The fitted same-event decision: logistic-regression coefficients, kept as data.

Written by ``benchmarks/fit_stories.py --write`` from 541 SemEval-2022 task 8
tuning pairs (see docs/stories.md for how they were fitted and measured). Do not edit
by hand: change the signals or the script, and fit again.
"""

INTERCEPT = -2.8718
COEFFICIENTS = (  # in the order of clustering.SIGNAL_NAMES
    +1.5653,  # names
    +1.7822,  # name_share
    +1.9977,  # numbers
    +0.4306,  # dates
    +3.9905,  # headline
    +2.0764,  # text_same_language
    +7.9212,  # text_across_languages
    -0.6046,  # headline_names_missing
    -0.6168,  # headline_numbers_missing
    -1.5657,  # dates_differ
    -5.3838,  # days_apart
    -2.1382,  # copy
)
THRESHOLD = 0.5  # the best out-of-fold F0.5: precision first, a false merge swallows an alert
