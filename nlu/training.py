"""Training the NLU model, cached by the hash of everything that goes into it.

A training run reads a build folder (var/nlu/build) assembled from nlu/config.yml, nlu/data and the
lookup tables generated from the app's config.yml. The model is named after the hash of that
content, so `train()` is a no-op when a model for the current content exists.

Trained models are also kept in a cache shared by every checkout on the machine
(`$YOUTHVOICE_NLU_CACHE`, by default ~/.cache/youthvoice/nlu-models; set it empty to turn this
off): a fresh clone, such as a CI run's, then reuses a model instead of spending minutes training.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlu.lookups import write_neighbourhood_lookup
from nlu.venv import RASA_VERSION, RasaEnv, exclusive, tail

logger = logging.getLogger(__name__)

# Rasa's own training-data file extensions (rasa.shared.data.TRAINING_DATA_EXTENSIONS).
TRAINING_EXTENSIONS = (".yml", ".yaml", ".json")
# Without an assistant_id Rasa writes a random one into the config file it was given.
ASSISTANT_ID = "youthvoice-nlu"
FINGERPRINT_LENGTH = 20
KEEP_MODELS = 3
SHARED_CACHE_ENV = "YOUTHVOICE_NLU_CACHE"
KEEP_SHARED_MODELS = 6


class TrainingError(RuntimeError):
    """The NLU model cannot be trained from the project's files."""


@dataclass(frozen=True)
class NluProject:
    """Where the NLU sources live and where builds, models and logs go."""

    root: Path
    config: Path
    data: Path
    tests: Path
    app_config: Path
    var: Path
    shared_cache: Path | None = None

    @classmethod
    def at(cls, root: Path, environ: Mapping[str, str] | None = None) -> NluProject:
        root = root.resolve()
        return cls(
            root=root,
            config=root / "nlu" / "config.yml",
            data=root / "nlu" / "data",
            tests=root / "nlu" / "tests",
            app_config=root / "config.yml",
            var=root / "var" / "nlu",
            shared_cache=shared_model_cache(environ),
        )

    @property
    def build(self) -> Path:
        return self.var / "build"

    @property
    def models(self) -> Path:
        return self.var / "models"

    @property
    def logs(self) -> Path:
        return self.var / "logs"

    @property
    def lookup_file(self) -> Path:
        return self.build / "lookup_neighbourhood.yml"

    def model_path(self, fingerprint: str) -> Path:
        return self.models / f"{fingerprint}.tar.gz"

    def check_sources(self) -> list[Path]:
        """The training data files; raise TrainingError when the pipeline or the data is missing."""
        if not self.config.is_file():
            raise TrainingError(f"{self.config} is missing: it holds the NLU pipeline")
        if not self.data.is_dir():
            raise TrainingError(f"{self.data} is missing: it holds the NLU training data")
        sources = _training_files(self.data)
        if not sources:
            raise TrainingError(f"{self.data} holds no training file ({', '.join(TRAINING_EXTENSIONS)})")
        return sources


def shared_model_cache(environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    if SHARED_CACHE_ENV in env:
        value = env[SHARED_CACHE_ENV].strip()
        return Path(value) if value else None
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "youthvoice" / "nlu-models"


@dataclass(frozen=True)
class TrainResult:
    model: Path
    fingerprint: str
    trained: bool
    seconds: float
    from_shared_cache: bool = False


def prepare_build(project: NluProject) -> str:
    """Assemble the build folder from the sources and return the fingerprint of its content."""
    sources = project.check_sources()
    data_copy = project.build / "data"
    if data_copy.exists():
        shutil.rmtree(data_copy)
    for source in sources:
        target = data_copy / source.relative_to(project.data)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    write_neighbourhood_lookup(project.app_config, project.lookup_file)

    digest = hashlib.sha256(f"rasa=={RASA_VERSION}\n".encode())
    config_bytes = project.config.read_bytes()
    _add_file(digest, "config.yml", config_bytes)
    for path in [*_training_files(data_copy), project.lookup_file]:
        _add_file(digest, path.relative_to(project.build).as_posix(), path.read_bytes())
    _write_training_config(config_bytes, project.build / "config.yml")
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def train(project: NluProject, env: RasaEnv) -> TrainResult:
    """Train the model for the current sources unless it already exists."""
    with exclusive(project.var / "train.lock"):
        fingerprint = prepare_build(project)
        model = project.model_path(fingerprint)
        if model.exists():
            # Marks it as recently used, which is what pruning goes by.
            os.utime(model)
            logger.info("NLU model %s is up to date", model)
            return TrainResult(model, fingerprint, trained=False, seconds=0.0)
        shared = project.shared_cache / model.name if project.shared_cache else None
        if shared is not None and shared.is_file():
            _place(shared, model)
            os.utime(shared)
            logger.info("NLU model %s taken from the shared cache %s", model, shared.parent)
            return TrainResult(model, fingerprint, trained=False, seconds=0.0, from_shared_cache=True)
        seconds = _run_training(project, env, fingerprint)
        logger.info("Trained NLU model %s in %.0f s", model, seconds)
        if shared is not None:
            _share(model, shared)
        return TrainResult(model, fingerprint, trained=True, seconds=seconds)


def _place(source: Path, target: Path) -> None:
    """Copy (or hard-link) an archive so that `target` appears whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copyfile(source, partial)
    os.replace(partial, target)


def _share(model: Path, shared: Path) -> None:
    # The shared cache only saves time: a failure to write it must not fail the training.
    try:
        _place(model, shared)
        prune_models(shared.parent, keep=KEEP_SHARED_MODELS)
    except OSError as error:
        logger.warning("Could not keep %s in the shared cache %s: %s", model.name, shared.parent, error)


def _run_training(project: NluProject, env: RasaEnv, fingerprint: str) -> float:
    # Train into a scratch folder and move the archive into place, so an interrupted run never
    # leaves a half-written model that the cache would take for a finished one.
    # Trainings are serialised by the lock held here, so any scratch folder is a killed run's.
    for stale in project.models.glob(".training-*"):
        shutil.rmtree(stale, ignore_errors=True)
    scratch = project.models / f".training-{fingerprint}"
    scratch.mkdir(parents=True)
    project.logs.mkdir(parents=True, exist_ok=True)
    log = project.logs / "rasa-train.log"
    command = [
        str(env.rasa),
        "train",
        "nlu",
        "--config",
        str(project.build / "config.yml"),
        "--nlu",
        str(project.build),
        "--out",
        str(scratch),
        "--fixed-model-name",
        fingerprint,
    ]
    started = time.monotonic()
    with log.open("w") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(
            env.tethered(command),
            cwd=project.var,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env.process_env(RASA_CACHE_DIRECTORY=str(project.var / "cache")),
            check=False,
        )
    seconds = time.monotonic() - started
    produced = scratch / f"{fingerprint}.tar.gz"
    if done.returncode != 0 or not produced.exists():
        raise TrainingError(
            f"`rasa train nlu` failed (exit code {done.returncode}); last lines of {log}:\n{tail(log)}"
        )
    os.replace(produced, project.model_path(fingerprint))
    shutil.rmtree(scratch)
    prune_models(project.models, keep=KEEP_MODELS)
    return seconds


def prune_models(models: Path, keep: int) -> None:
    # Each model is ~70 MB. The most recently used few (a cache hit touches its model) cover
    # switching between branches and a supervised server that may need to reload its model.
    archives = sorted(models.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in archives[keep:]:
        old.unlink(missing_ok=True)


def _training_files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and path.suffix in TRAINING_EXTENSIONS
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _add_file(digest: hashlib._Hash, name: str, content: bytes) -> None:
    # Length-prefixed so that no two different file sets can produce the same byte stream.
    encoded = name.encode()
    digest.update(len(encoded).to_bytes(8, "big") + encoded)
    digest.update(len(content).to_bytes(8, "big") + content)


def _write_training_config(config_bytes: bytes, target: Path) -> None:
    try:
        config = yaml.safe_load(config_bytes)
    except yaml.YAMLError as error:
        raise TrainingError(f"nlu/config.yml is not valid YAML: {error}") from error
    if not isinstance(config, dict):
        raise TrainingError("nlu/config.yml must be a mapping (language, pipeline, ...)")
    if not config.get("assistant_id") or config.get("assistant_id") == "placeholder_default":
        config["assistant_id"] = ASSISTANT_ID
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
