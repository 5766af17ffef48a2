"""The params.yaml schema: one pydantic model per section, owning every key, type, bound, default
and allowed value the code reads.

Every model refuses unknown keys, and types are strict: an integer is fine where a number is
expected, and so is a float with an integral value where an integer is (``epochs: 2.0``; the
code applies ``int()``), but a string is never a number and a boolean is never a number or a
string. Allowed words are matched ignoring case and surrounding blanks, as the code reads them.
``null`` is accepted only where the code gives it a meaning (said in the field's description).
Messages are built from these models by :mod:`papercls.config.messages`.

The training part of an encoder section is :class:`TrainConfig`, the configuration the training
loop runs with (``papercls.training.config``); :class:`Ensemble` is the ensemble stage's.

Only light imports here (pydantic, the template's field names): the check_params stage uses it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from papercls.data.template import FIELDS, SEP, template_fields

TRAINED = ("tfidf", "baseline", "topline")  # what the train stages produce (dvc.yaml)
MODELS = (*TRAINED, "ensemble")  # every model with predictions (the ensemble stage adds one)
ENSEMBLE_METHODS = ("mean", "logit", "rank")
THRESHOLD_METHODS = ("f1", "prior", "fixed")
MIXED_PRECISION = ("fp32", "auto", "bf16", "fp16", "no")  # "no" = fp32 (old spelling)
SELECT_METRICS = ("pr_auc", "roc_auc", "log_loss", "best_f1", "f1")
CLASS_WEIGHTS = ("none", "balanced")
ENGINES = ("torch", "onnx")
PRECISIONS = ("auto", "fp32", "bf16", "int8")
ONNX_PRECISIONS = ("auto", "fp32", "int8")  # what engine onnx takes
SEED_MAX = 2**31 - 1
THREADS_MAX = 1024
FOLDS_MAX = 100
BOOTSTRAP_MAX = 100_000
# Below 3 word pieces the tokenizer keeps only its two special tokens, or (0, 1) does not
# truncate at all and training fails later with a tensor-size error.
MIN_MAX_LENGTH = 3
TEMPLATE_EXAMPLE = "'{title} {sep} {abstract}'"


def _integral(value: Any) -> Any:
    """``5.0`` -> ``5`` (the code applies ``int()``); anything else is left to the strict check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _word(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _template(value: str) -> str:
    try:
        template_fields(value)  # ValueError naming the unknown fields
        value.format(sep=f" {SEP} ", **{f: "x" for f in FIELDS})
    except (ValueError, IndexError, KeyError, AttributeError) as exc:
        if str(exc).startswith("text_template"):
            raise
        raise ValueError(f"not a usable template: {exc}") from None
    return value


def _distinct(values: list[str]) -> list[str]:
    dupes = sorted({v for v in values if values.count(v) > 1})
    if dupes:
        raise ValueError(f"names {dupes} appear more than once")
    return values


def choice(values: tuple[str, ...]) -> Any:
    """One of ``values``, ignoring case and surrounding blanks; the model holds it lowered."""
    return Annotated[Literal[values], BeforeValidator(_word)]


Int = Annotated[int, BeforeValidator(_integral)]
Text = Annotated[str, StringConstraints(pattern=r"\S")]  # a non-empty string
Template = Annotated[Text, AfterValidator(_template)]
Seed = Annotated[Int, Field(ge=0, le=SEED_MAX)]
Probability = Annotated[float, Field(ge=0, le=1)]


class Section(BaseModel):
    """A params.yaml mapping: unknown keys refused, strict types, no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Data(Section):
    train: Text
    test: Text


class Preprocess(Section):
    text_template: Template = Field(
        json_schema_extra={"expected": "a template string such as " + TEMPLATE_EXAMPLE}
    )
    valid_size: float = Field(gt=0, lt=1)
    folds: Int = Field(5, ge=0, le=FOLDS_MAX, description="0: no folds; else at least 2")
    seed: Seed

    @field_validator("folds")
    @classmethod
    def _not_one_fold(cls, value: int) -> int:
        if value == 1:
            raise ValueError(f"expected 0 (no folds) or an integer in [2, {FOLDS_MAX}], got 1")
        return value


class Tfidf(Section):
    max_features: Int | None = Field(50000, ge=1, description="null: no limit")
    ngram_max: Int = Field(2, ge=1)
    C: float = Field(4.0, gt=0)
    seed: Seed = 42
    max_iter: Int = Field(2000, ge=1)
    kfold: bool = False


class Head(Section):
    hidden: Int = Field(128, ge=1)
    mean_weight: float = 1.0
    cls_weight: float = 1.0
    dropout: float = Field(0.1, ge=0, lt=1)


class TrainConfig(Section):
    """The training loop's configuration: an encoder section less its model keys."""

    max_length: Int | None = Field(
        256, ge=MIN_MAX_LENGTH, description="null: the tokenizer's limit"
    )
    batch_size: Int = Field(16, ge=1)  # the global batch: with N processes each trains on 1/N
    grad_accum: Int = Field(1, ge=1)
    epochs: Int = Field(3, ge=1)
    lr: float = Field(5e-5, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    # epochs without improvement of select_metric before stopping
    patience: Int = Field(2, ge=0, description="0: no early stopping")
    seed: Seed = 42
    threads: Int = Field(0, ge=0, le=THREADS_MAX, description="0: all cores")
    max_grad_norm: float = Field(1.0, ge=0)
    eval_batch_size: Int = Field(64, ge=1)
    # CUDA: bf16/fp16; CPU: bf16 where native | fp32 (or no) | bf16 | fp16
    mixed_precision: choice(MIXED_PRECISION) = "auto"
    select_best: bool = True  # final weights = best epoch by select_metric (else the last one)
    select_metric: choice(SELECT_METRICS) = "pr_auc"  # papercls.training.selection
    # minimum optimizer updates: epochs are raised to reach it
    min_steps: Int = Field(0, ge=0, description="0: off")
    class_weight: choice(CLASS_WEIGHTS) = "none"  # balanced: cross-entropy weighted n/(2 n_class)
    checkpoint_dir: Text | None = None  # default: <out_dir>/../<out_dir name>.ckpt
    keep_checkpoint: bool = False  # keep the checkpoint after success (k-fold: until all folds)
    max_epochs_this_run: Int | None = Field(None, ge=1)  # stop (resumably) after so many epochs
    progress: bool | None = None  # tqdm bars; None = only on a terminal
    # processes the train stage starts (torchrun) when no launcher started it already; the loop
    # trains with the processes it runs in (papercls.distributed)
    processes: Int = Field(1, ge=1, le=THREADS_MAX)

    # Fields that do not change the trained weights (left out of the resume fingerprint).
    RUNTIME_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {
            "threads",
            "eval_batch_size",
            "checkpoint_dir",
            "keep_checkpoint",
            "max_epochs_this_run",
            "progress",
            "processes",
        }
    )

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _not_a_yaml_boolean(cls, value: Any) -> Any:
        if isinstance(value, bool):  # an unquoted no / off / false in YAML
            raise ValueError(
                f"got {value!r} (a boolean), a YAML boolean (an unquoted no reads as false, and "
                '`dvc exp run -S` drops the quotes of "no"); write fp32 for full precision'
            )
        return value

    @classmethod
    def from_params(cls, section: dict[str, Any], **overrides: Any) -> TrainConfig:
        """From a ``baseline``/``topline`` params section, checked whole (an unknown key is an
        error); the model keys (backbone, kfold, head) are left out; ``overrides`` win."""
        Encoder.model_validate(section)
        kwargs = {k: v for k, v in section.items() if k not in MODEL_KEYS}
        return cls.model_validate({**kwargs, **overrides})

    def fingerprint_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude=set(self.RUNTIME_FIELDS))


class Encoder(TrainConfig):
    """A ``baseline`` / ``topline`` section: the training loop's keys and the model's."""

    backbone: Text = "minilm"  # papercls.models.backbone
    kfold: bool = False
    head: Head | None = None  # null: a plain classification head


MODEL_KEYS = frozenset(Encoder.model_fields) - frozenset(TrainConfig.model_fields)


class Ensemble(Section):
    model_config = ConfigDict(frozen=True)

    members: tuple[choice(TRAINED), ...] = Field(("baseline", "topline"), min_length=2)
    method: choice(ENSEMBLE_METHODS) = "mean"

    @field_validator("members", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("members")
    @classmethod
    def _distinct_members(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_distinct(list(value)))


class Evaluate(Section):
    models: Annotated[list[choice(MODELS)], AfterValidator(_distinct)] = Field(min_length=1)
    threshold: Probability = 0.5
    max_points: Int = Field(200, ge=2)


class Thresholds(Section):
    method: choice(THRESHOLD_METHODS) | Probability = Field(
        "f1", description="or a number in [0, 1], a fixed threshold"
    )
    fixed: Probability = 0.5
    expected_rate: float | None = Field(None, ge=0, le=1)
    expected_count: Int | None = Field(None, ge=0)
    bootstrap: Int | None = Field(1000, ge=0, le=BOOTSTRAP_MAX, description="0: no interval")
    seed: Seed = 42


class Inference(Section):
    engine: choice(ENGINES) = "torch"
    precision: choice(PRECISIONS) = "fp32"


class Predict(Section):
    model: choice(MODELS)
    output: Text
    probs_output: Text | None = None


class Tracking(Section):
    experiment: Text
    register_name: Text | None = None
    fail_on_unavailable: bool


class Params(Section):
    """The whole params.yaml. ``null`` for a section with no required key stands for its
    defaults."""

    data: Data
    preprocess: Preprocess
    tfidf: Tfidf
    baseline: Encoder
    topline: Encoder
    ensemble: Ensemble | None = None
    evaluate: Evaluate
    thresholds: Thresholds | None
    inference: Inference | None = None
    predict: Predict
    tracking: Tracking
