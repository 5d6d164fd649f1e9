"""The pairwise classifier: logistic regression on dedupe's per-attribute distances."""

from __future__ import annotations

from typing import Any

import numpy
import numpy.typing
import sklearn.linear_model
import sklearn.model_selection

FloatArray = numpy.typing.NDArray[numpy.float64]

# The regularisation grid dedupe itself searches.
C_GRID = [0.00001, 0.0001, 0.001, 0.01, 0.1, 1, 10]
# Same optimum as dedupe's default lbfgs, reached in a few Newton steps: with ~10-30 features and a
# few hundred labels this is several times faster, which matters when the app retrains every 10 labels.
SOLVER = "newton-cholesky"
# Below this many labels of either class a grid search over folds has nothing to stand on.
MIN_PER_CLASS_FOR_SEARCH = 5


def fit_classifier(features: FloatArray, y: numpy.typing.NDArray[numpy.int_], seed: int) -> Any:
    """Fit the match classifier, choosing C by cross-validated F1 when there are enough labels."""
    smallest = int(min(numpy.sum(y == 1), numpy.sum(y == 0)))
    if smallest < MIN_PER_CLASS_FOR_SEARCH:
        classifier: Any = new_logistic_regression(C=1.0)
    else:
        folds = sklearn.model_selection.StratifiedKFold(
            n_splits=min(5, smallest), shuffle=True, random_state=seed % 2**32
        )
        # n_jobs=1: dedupe's default (-1) forks a worker pool per fit, which a web or Celery process should not do.
        classifier = sklearn.model_selection.GridSearchCV(
            estimator=new_logistic_regression(),
            param_grid={"C": C_GRID},
            # dedupe scores C by F1, which ties across the small values of C (predictions keep their
            # sign as weights shrink) and then picks the smallest: every probability ~0.5 and, at a
            # 0.5 threshold, most compared pairs "match" (seen: precision 0.67 at 100,000 people).
            # Log loss judges the probabilities themselves.
            scoring="neg_log_loss",
            cv=folds,
            n_jobs=1,
        )
    classifier.fit(features, y)
    return classifier


def new_logistic_regression(C: float = 1.0) -> sklearn.linear_model.LogisticRegression:
    """A logistic regression configured the way every engine classifier is."""
    return sklearn.linear_model.LogisticRegression(C=C, solver=SOLVER)


def linear_model(classifier: Any) -> sklearn.linear_model.LogisticRegression:
    """The fitted logistic regression inside a classifier (GridSearchCV or bare)."""
    return getattr(classifier, "best_estimator_", classifier)


def cross_validated_predictions(
    features: FloatArray, y: numpy.typing.NDArray[numpy.int_], seed: int, folds: int
) -> numpy.typing.NDArray[numpy.float64]:
    """Out-of-fold match probabilities for each labelled pair."""
    splitter = sklearn.model_selection.StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    out = numpy.zeros(len(y), dtype=numpy.float64)
    for train_index, test_index in splitter.split(features, y):
        model = fit_classifier(features[train_index], y[train_index], seed)
        out[test_index] = model.predict_proba(features[test_index])[:, 1]
    return out
