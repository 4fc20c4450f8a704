"""The Rasa runtime: environment, lookup tables, cached training, supervision, evaluation and CLI."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from nlu.cli import register
from nlu.evaluation import (
    EvaluationError,
    evaluate,
    language_of,
    load_examples,
    score,
    strip_annotations,
)
from nlu.lookups import LookupConfigError, neighbourhood_names, write_neighbourhood_lookup
from nlu.runtime import start_nlu
from nlu.server import RasaServerError, RasaSupervisor, serve_command
from nlu.training import (
    ASSISTANT_ID,
    NluProject,
    prepare_build,
    prune_models,
    shared_model_cache,
    train,
)
from nlu.venv import (
    RASA_VERSION,
    RasaEnv,
    RasaEnvError,
    ensure_rasa_env,
    find_python310,
    python310_candidates,
)
from tests.support.rasa import ROOT, RasaTestServer, hanging_server, prepare, training_example

# --- lookup tables -------------------------------------------------------------------------------

CITY_CONFIG = {
    "cities": [
        {
            "id": "lyon",
            "name": {"fr": "Lyon", "en": "Lyon"},
            "neighbourhoods": [
                {"id": "guillotiere", "name": {"fr": "Guillotière", "en": "Guillotière"}},
                {"id": "vaise", "name": {"fr": "Vaise", "en": "Vaise"}},
            ],
        },
        {
            "id": "montreal",
            "name": {"fr": "Montréal", "en": "Montreal"},
            "neighbourhoods": [
                {"id": "ndg", "name": {"fr": "Notre-Dame-de-Grâce", "en": "Notre-Dame-de-Grace"}},
            ],
        },
    ]
}


def test_lookup_lists_both_languages_and_typed_spellings_once() -> None:
    assert neighbourhood_names(CITY_CONFIG) == [
        "Guillotière",
        "Guillotiere",
        "Vaise",
        "Notre-Dame-de-Grâce",
        "Notre-Dame-de-Grace",
        "Notre Dame de Grâce",
        "Notre Dame de Grace",
    ]


def test_lookup_file_is_rasa_nlu_yaml_and_rewritten_only_on_change(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(CITY_CONFIG, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "build" / "lookup_neighbourhood.yml"
    write_neighbourhood_lookup(config, out)
    document = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert document["version"] == "3.1"
    [table] = document["nlu"]
    assert table["lookup"] == "neighbourhood"
    assert table["examples"].splitlines()[:3] == ["- Guillotière", "- Guillotiere", "- Vaise"]

    os.utime(out, (1_000_000, 1_000_000))
    write_neighbourhood_lookup(config, out)
    assert out.stat().st_mtime == 1_000_000
    with_mermoz = json.loads(json.dumps(CITY_CONFIG))
    with_mermoz["cities"][0]["neighbourhoods"].append(
        {"id": "mermoz", "name": {"fr": "Mermoz", "en": "Mermoz"}}
    )
    config.write_text(yaml.safe_dump(with_mermoz), encoding="utf-8")
    write_neighbourhood_lookup(config, out)
    assert out.stat().st_mtime != 1_000_000
    assert "- Mermoz" in out.read_text(encoding="utf-8")


def test_lookup_lists_the_nicknames_with_their_spellings() -> None:
    config = {"cities": [{"neighbourhoods": [
        {"name": {"fr": "Guillotière", "en": "Guillotière"}, "aliases": ["la Guill", "la Guillotière"]},
    ]}]}
    assert neighbourhood_names(config) == [
        "Guillotière", "Guillotiere", "la Guill", "la Guillotière", "la Guillotiere"]


def test_lookup_from_the_project_config_covers_every_city() -> None:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = neighbourhood_names(config)
    for city in config["cities"]:
        for neighbourhood in city["neighbourhoods"]:
            assert neighbourhood["name"]["fr"] in names
            assert neighbourhood["name"]["en"] in names


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "cities is missing"),
        ({"cities": [{"id": "lyon"}]}, "cities[0].neighbourhoods is missing"),
        (
            {"cities": [{"neighbourhoods": [{"name": {"fr": "Vaise"}}]}]},
            "cities[0].neighbourhoods[0].name.en is missing",
        ),
        (
            {"cities": [{"neighbourhoods": [{"name": {"fr": "Vaise", "en": ""}}]}]},
            "cities[0].neighbourhoods[0].name.en must be a one-line, non-empty string",
        ),
        (
            {"cities": [{"neighbourhoods": [{"name": {"fr": "V", "en": "V"}, "aliases": "la V"}]}]},
            "cities[0].neighbourhoods[0].aliases must be a list of one-line, non-empty strings",
        ),
        (
            {"cities": [{"neighbourhoods": [{"name": {"fr": "V", "en": "V"}, "aliases": [" "]}]}]},
            "cities[0].neighbourhoods[0].aliases must be a list of one-line, non-empty strings",
        ),
    ],
)
def test_lookup_errors_name_the_field(config: object, message: str) -> None:
    with pytest.raises(LookupConfigError, match=r"^app\.yml: ") as caught:
        neighbourhood_names(config, "app.yml")
    assert message in str(caught.value)


# --- the Python 3.10 environment ------------------------------------------------------------------


def test_missing_python310_fails_naming_every_place_looked_at(tmp_path: Path) -> None:
    candidates = python310_candidates({"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")})
    assert str(tmp_path / "pyenv" / "versions" / "3.10.13" / "bin" / "python3.10") in candidates
    assert "/usr/bin/python3.10" in candidates
    assert "python3.10 on PATH" in candidates
    assert "`pyenv prefix 3.10`" in candidates
    absent = [str(tmp_path / "nowhere" / "python3.10"), "python3.10 on PATH"]
    with pytest.raises(RasaEnvError) as caught:
        find_python310([*absent, sys.executable])
    message = str(caught.value)
    assert f"Rasa {RASA_VERSION} needs Python 3.10" in message
    for candidate in absent:
        assert f"{candidate}: not found" in message
    assert f"{sys.executable}: is Python 3.11" in message


def test_tests_fail_with_the_reason_when_python310_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _copy_project(tmp_path)
    shutil.copy(ROOT / "nlu" / "constraints-rasa.txt", tmp_path / "nlu")
    monkeypatch.setattr("nlu.venv.python310_candidates", lambda: ["/nowhere/python3.10"])
    with pytest.raises(pytest.fail.Exception) as failed:
        prepare(tmp_path)
    assert "cannot prepare the Rasa NLU for tests" in str(failed.value)
    assert "/nowhere/python3.10: not found" in str(failed.value)
    assert not (tmp_path / ".venv-rasa").exists()


@pytest.mark.rasa
def test_rasa_env_is_installed_once_then_reused(rasa_server: RasaTestServer) -> None:
    started = time.monotonic()
    path = ensure_rasa_env(ROOT)
    assert time.monotonic() - started < 1.0
    assert path == ROOT / ".venv-rasa"
    assert RasaEnv(path).rasa.exists()


def test_constraints_pin_the_rasa_version_installed() -> None:
    pins = (ROOT / "nlu" / "constraints-rasa.txt").read_text().splitlines()
    assert f"rasa=={RASA_VERSION}" in pins
    assert all(line.startswith("#") or "==" in line for line in pins if line.strip())


def test_rasa_processes_run_without_telemetry_or_the_bots_python_path() -> None:
    env = RasaEnv(Path("/opt/venv-rasa")).process_env({"PATH": "/usr/bin", "PYTHONPATH": "/bot"})
    assert env["RASA_TELEMETRY_ENABLED"] == "false"
    assert "PYTHONPATH" not in env
    assert env["PATH"].split(os.pathsep)[0] == "/opt/venv-rasa/bin"


def test_the_server_listens_on_loopback_only() -> None:
    command = serve_command(RasaEnv(Path("/v")), Path("/m.tar.gz"), 5123)
    assert command[command.index("-i") + 1] == "127.0.0.1"
    assert "--enable-api" in command
    assert "--cors" not in command


# --- training cache --------------------------------------------------------------------------------


def _copy_project(tmp_path: Path) -> NluProject:
    """A copy of the project's NLU sources, with no shared model cache."""
    shutil.copytree(ROOT / "nlu" / "data", tmp_path / "nlu" / "data")
    shutil.copy(ROOT / "nlu" / "config.yml", tmp_path / "nlu" / "config.yml")
    shutil.copy(ROOT / "config.yml", tmp_path / "config.yml")
    return NluProject.at(tmp_path, {"YOUTHVOICE_NLU_CACHE": ""})


def test_fingerprint_follows_config_data_and_neighbourhoods(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    first = prepare_build(project)
    assert prepare_build(project) == first
    assert project.lookup_file.exists()

    data_file = next(project.data.rglob("*.yml"))
    original = data_file.read_text(encoding="utf-8")
    data_file.write_text(original.replace("version:", "# edited\nversion:", 1), encoding="utf-8")
    assert prepare_build(project) != first
    data_file.write_text(original, encoding="utf-8")
    assert prepare_build(project) == first

    app_config = project.app_config.read_text(encoding="utf-8")
    project.app_config.write_text(app_config.replace("Vaise", "Vaize"), encoding="utf-8")
    assert prepare_build(project) != first


def test_training_config_gets_an_assistant_id_and_the_source_is_left_alone(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    source = yaml.safe_load(project.config.read_text(encoding="utf-8"))
    source.pop("assistant_id", None)
    project.config.write_text(yaml.safe_dump(source), encoding="utf-8")
    before = project.config.read_bytes()
    prepare_build(project)
    assert project.config.read_bytes() == before
    assert yaml.safe_load((project.build / "config.yml").read_text())["assistant_id"] == ASSISTANT_ID


def test_a_model_in_the_shared_cache_is_used_instead_of_training(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    project = replace(_copy_project(tmp_path / "clone"), shared_cache=shared)
    fingerprint = prepare_build(project)
    shared.mkdir()
    (shared / f"{fingerprint}.tar.gz").write_bytes(b"a trained model")
    no_rasa = RasaEnv(tmp_path / "no-venv")  # training would fail: nothing to run

    result = train(project, no_rasa)
    assert (result.trained, result.from_shared_cache) == (False, True)
    assert result.model == project.model_path(fingerprint)
    assert result.model.read_bytes() == b"a trained model"
    assert train(project, no_rasa).from_shared_cache is False


def test_shared_cache_location_follows_the_environment() -> None:
    assert shared_model_cache({"YOUTHVOICE_NLU_CACHE": "/srv/models"}) == Path("/srv/models")
    assert shared_model_cache({"YOUTHVOICE_NLU_CACHE": ""}) is None
    assert shared_model_cache({"XDG_CACHE_HOME": "/c"}) == Path("/c/youthvoice/nlu-models")


def test_only_the_most_recently_used_models_are_kept(tmp_path: Path) -> None:
    for age, name in enumerate(["newest", "recent", "older", "oldest"]):
        archive = tmp_path / f"{name}.tar.gz"
        archive.write_bytes(b"model")
        os.utime(archive, (1_000_000 - age, 1_000_000 - age))
    (tmp_path / ".training-x").mkdir()
    prune_models(tmp_path, keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".training-x",
        "newest.tar.gz",
        "older.tar.gz",
        "recent.tar.gz",
    ]


@pytest.mark.rasa
def test_second_training_is_a_no_op(rasa_server: RasaTestServer) -> None:
    # The first call is a no-op too unless the sources were edited since the session started.
    first = train(rasa_server.project, rasa_server.env)
    inode = first.model.stat().st_ino
    started = time.monotonic()
    again = train(rasa_server.project, rasa_server.env)
    assert time.monotonic() - started < 5.0
    assert not again.trained
    assert again.model == first.model
    assert again.model.stat().st_ino == inode


# --- supervision -------------------------------------------------------------------------------


@pytest.mark.rasa
def test_supervisor_restarts_a_killed_server(rasa_server: RasaTestServer) -> None:
    supervisor = rasa_server.supervisor
    assert supervisor.wait_ready(300)
    killed = supervisor.pid
    assert killed is not None
    restarts = supervisor.restarts
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 300
    while supervisor.pid in (None, killed) or not supervisor.is_ready:
        assert time.monotonic() < deadline, f"no restart; see {supervisor.log_path}"
        time.sleep(0.5)
    assert supervisor.restarts == restarts + 1
    assert _cli("nlu", "parse", "--url", supervisor.url, "salut") == 0


def test_supervisor_refuses_a_port_already_taken(tmp_path: Path) -> None:
    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"model")
    with hanging_server() as url:
        port = int(url.rsplit(":", 1)[1])
        supervisor = RasaSupervisor(
            RasaEnv(tmp_path / "venv"), model, log_path=tmp_path / "log", cwd=tmp_path, port=port
        )
        with pytest.raises(RasaServerError, match=f"port {port} on 127.0.0.1 is already in use"):
            supervisor.start()
    assert supervisor.pid is None


def test_rasa_url_means_no_server_is_started(tmp_path: Path) -> None:
    service = start_nlu(tmp_path, {"RASA_URL": "http://127.0.0.1:5005/"})
    assert service.url == "http://127.0.0.1:5005"
    assert service.supervisor is None


# --- evaluation ---------------------------------------------------------------------------------


def test_language_comes_from_the_file_or_folder_name(tmp_path: Path) -> None:
    assert language_of(tmp_path / "heldout_fr.yml", tmp_path) == "fr"
    assert language_of(tmp_path / "en" / "heldout.yml", tmp_path) == "en"
    assert language_of(tmp_path / "heldout-EN.yaml", tmp_path) == "en"
    assert language_of(tmp_path / "french.yml", tmp_path) is None
    assert language_of(tmp_path / "fr_en.yml", tmp_path) is None


def test_entity_annotations_are_removed_from_examples() -> None:
    assert strip_annotations("j'habite [Vaise](neighbourhood) !") == "j'habite Vaise !"
    assert strip_annotations('à [Ixelles]{"entity": "neighbourhood"}') == "à Ixelles"


def test_scores_per_intent_with_confusions() -> None:
    pairs = [
        ("stop", "stop"),
        ("stop", "stop"),
        ("stop", "skip"),
        ("skip", "skip"),
        ("skip", "nlu_fallback"),
        ("greet", "greet"),
    ]
    scores = score(pairs)
    by_intent = {s.intent: s for s in scores.intents}
    assert by_intent["stop"].precision == 1.0
    assert by_intent["stop"].recall == pytest.approx(2 / 3)
    assert by_intent["stop"].f1 == pytest.approx(0.8)
    assert by_intent["skip"].precision == 0.5
    assert by_intent["skip"].recall == 0.5
    assert "nlu_fallback" not in by_intent
    assert scores.macro_f1 == pytest.approx((0.8 + 0.5 + 1.0) / 3)
    assert scores.accuracy == pytest.approx(4 / 6)
    assert scores.confusions == (("skip", "nlu_fallback", 1), ("stop", "skip", 1))


def test_evaluation_reads_rasa_yaml_per_language_and_stops_when_the_server_does(tmp_path: Path) -> None:
    (tmp_path / "heldout_fr.yml").write_text(
        """version: "3.1"
nlu:
- intent: stop
  examples: |
    - arrête
    - stop [Vaise](neighbourhood)
- synonym: vaise
  examples: |
    - Vaize
""",
        encoding="utf-8",
    )
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "heldout.yml").write_text(
        """version: "3.1"
nlu:
- intent: greet
  examples:
  - text: hi there
""",
        encoding="utf-8",
    )
    examples = load_examples(tmp_path)
    assert [(e.text, e.intent, e.language) for e in examples] == [
        ("hi there", "greet", "en"),
        ("arrête", "stop", "fr"),
        ("stop Vaise", "stop", "fr"),
    ]
    with pytest.raises(EvaluationError, match="no answer for 'hi there'"):
        evaluate(examples, lambda text: None)


def test_evaluation_needs_held_out_files(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="no held-out file"):
        load_examples(tmp_path)


# --- command line ------------------------------------------------------------------------------


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="youthvoice")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_cli_offers_the_four_nlu_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli("nlu", "--help")
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    for command in ("train", "serve", "parse", "eval"):
        assert command in help_text


def test_cli_reports_a_missing_pipeline_as_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nlu" / "data").mkdir(parents=True)
    code = _cli("nlu", "--root", str(tmp_path), "train")
    assert code == 2
    assert "nlu/config.yml is missing" in capsys.readouterr().err


@pytest.mark.rasa
def test_cli_train_reports_the_cached_model(
    rasa_server: RasaTestServer, capsys: pytest.CaptureFixture[str]
) -> None:
    model = train(rasa_server.project, rasa_server.env).model
    assert _cli("nlu", "--root", str(ROOT), "train") == 0
    assert capsys.readouterr().out.strip() == f"Up to date: {model}"


@pytest.mark.rasa
def test_cli_parse_prints_intent_ranking_and_entities(
    rasa_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text, intent = training_example()
    assert _cli("nlu", "parse", "--url", rasa_url, text) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"intent: {intent} (")
    assert lines[1] == "ranking:"
    assert lines[2].endswith(f"  {intent}")
    assert "entities: none" in lines or "entities:" in lines


@pytest.mark.rasa
def test_cli_eval_scores_and_gates_on_macro_f1(
    rasa_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Training examples make a held-out set the model should know almost perfectly.
    examples = load_examples(ROOT / "nlu" / "data")
    for language in ("fr", "en"):
        chosen: dict[str, list[str]] = {}
        for example in examples:
            if language in example.source.parts and len(chosen.setdefault(example.intent, [])) < 3:
                chosen[example.intent].append(example.text)
        items = [
            {"intent": intent, "examples": "".join(f"- {text}\n" for text in texts)}
            for intent, texts in chosen.items()
        ]
        (tmp_path / f"heldout_{language}.yml").write_text(
            yaml.safe_dump({"version": "3.1", "nlu": items}, allow_unicode=True), encoding="utf-8"
        )
    report_path = tmp_path / "report.json"
    tests = ("--url", rasa_url, "--tests", str(tmp_path))
    code = _cli("nlu", "eval", *tests, "--min-f1", "0.8", "--json", str(report_path))
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(report_path.read_text())
    assert set(report["by_language"]) == {"fr", "en"}
    assert report["overall"]["macro_f1"] >= 0.8
    assert "overall:" in out and "\nfr:" in out and "\nen:" in out

    code = _cli("nlu", "eval", *tests, "--min-f1", "1.01")
    assert code == 1
    assert "below --min-f1" in capsys.readouterr().err
