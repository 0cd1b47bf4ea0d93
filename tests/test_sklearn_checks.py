"""scikit-learn's estimator checks: the estimators' 2-D (single-modality) path, KeepAbsentRows."""

from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_i2moe import I2MoEClassifier
from sk_i2moe.preprocessing import KeepAbsentRows

# Each entry: check name -> why it cannot pass. At most three.
EXPECTED_FAILED_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: repeating a row changes the batches and the number of optimiser "
        "steps per epoch, so weighting and repeating agree in expectation, not to 1e-7"
    ),
}


# two members, not the "auto" eight of data this small: the ensemble's code path at half
# of the cost (the checks fit several hundred times; the members' count changes no API)
@parametrize_with_checks(
    [
        I2MoEClassifier(
            max_epochs=20, hidden_dim=16, n_tokens=2, batch_size=32, n_members=2, random_state=0
        )
    ],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@parametrize_with_checks([KeepAbsentRows(StandardScaler())])
def test_keep_absent_rows_is_a_scikit_learn_transformer(estimator, check):
    check(estimator)
