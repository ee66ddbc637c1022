"""Loading the catalog and config into models: both forms of everything found in the wild,
defaults, conversions, participant resolution, and how problems are reported."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release_trains.catalog import load_catalog, resolve, to_percent
from release_trains.errors import ResolutionError, ValidationFailed
from release_trains.gates import GateContext, evaluate
from release_trains.models import Catalog, Config, Dependency, GateCheck, Outcome, Service

MakeRoot = Callable[..., Path]

SERVICES: dict[str, Any] = {
    "services": [
        {"name": "market-data", "version": "3.0.2", "api_contracts": ["market-data-api@3.0.0"]},
        {
            "name": "curve-service",
            "aliases": ["curve"],
            "version": "1.8.0",
            "dependencies": {"internal": ["market-data@3.0.0"], "external": ["redis"]},
            "quality": {"coverage": 0.81, "open_critical_vulns": 0},
        },
        {
            "name": "scenario-service",
            "version": "1.4.0",
            "dependencies": {"internal": ["curve-service"]},
        },
    ]
}
TRAINS: dict[str, Any] = {"trains": [{"name": "t", "participants": ["curve"]}]}


def _root(
    make_root: MakeRoot,
    *,
    trains: Any = None,
    services: Any = None,
    config: Any = None,
    quality: Any = None,
    specs: Any = None,
    services_file: str = "catalog/service-index.yaml",
) -> Path:
    files: dict[str, Any] = {
        "catalog/release-trains.yaml": TRAINS if trains is None else trains,
        services_file: SERVICES if services is None else services,
    }
    if config is not None:
        files["config/upgrade-policies.yaml"] = config
    if quality is not None:
        files["catalog/latest_quality_snapshot.json"] = quality
    if specs is not None:
        files["catalog/specs-index.yaml"] = specs
    return make_root(files)


def _load(make_root: MakeRoot, **kw: Any) -> Catalog:
    return load_catalog(_root(make_root, **kw))


def _problems(make_root: MakeRoot, **kw: Any) -> list[str]:
    root = _root(make_root, **kw)
    with pytest.raises(ValidationFailed) as info:
        load_catalog(root)
    assert info.value.problems, "ValidationFailed without problems"
    return info.value.problems


def _one_problem(make_root: MakeRoot, **kw: Any) -> str:
    problems = _problems(make_root, **kw)
    assert len(problems) == 1, problems
    return problems[0]


# --- services -----------------------------------------------------------------------------


def test_services_as_list_and_as_mapping_give_the_same_models(make_root: MakeRoot) -> None:
    as_list = _load(make_root)
    mapping = {
        "services": {
            s["name"]: {k: v for k, v in s.items() if k != "name"} for s in SERVICES["services"]
        }
    }
    as_mapping = _load(make_root, services=mapping)
    assert list(as_list.services) == ["market-data", "curve-service", "scenario-service"]
    assert as_mapping.services == as_list.services
    curve = as_list.services["curve-service"]
    assert curve.depends_on == ("market-data",)  # the @version pin is dropped for ordering
    assert curve.aliases == ("curve",)
    assert as_list.services["market-data"].api_contracts == (("market-data-api", "3.0.0"),)


def test_mapping_key_and_name_must_agree(make_root: MakeRoot) -> None:
    problem = _one_problem(make_root, services={"services": {"a": {"name": "b", "version": "1.0"}}})
    assert "$.services.a.name" in problem and "differs from its key" in problem


def test_yaml_is_read_when_both_yaml_and_json_exist(make_root: MakeRoot) -> None:
    json_doc = {"services": [{"name": "curve-service", "version": "9.9.9"}]}
    root = make_root(
        {
            "catalog/release-trains.yaml": TRAINS,
            "catalog/service-index.yaml": SERVICES,
            "catalog/service-index.json": json_doc,
        }
    )
    catalog = load_catalog(root)
    assert catalog.files["services"] == root / "catalog" / "service-index.yaml"
    assert catalog.services["curve-service"].version == "1.8.0"


def test_json_service_index_is_read_when_alone(make_root: MakeRoot) -> None:
    catalog = _load(make_root, services_file="catalog/service-index.json")
    assert catalog.files["services"].name == "service-index.json"
    assert catalog.services["curve-service"].version == "1.8.0"


# --- config ---------------------------------------------------------------------------------


def test_config_without_release_trains_section_gets_defaults(make_root: MakeRoot) -> None:
    other_tools = {
        "auto_upgrade": {"patch": {"enabled": True, "weird": [1, {"x": None}]}},
        "scheduling": "anything at all",
        "release_trainz": {"not": "ours either"},
    }
    catalog = _load(make_root, config=other_tools)
    assert catalog.config == Config()
    assert catalog.config.quality_gates.min_quality_score == 80
    assert catalog.config.quality_gates.max_critical_vulns == 0
    assert catalog.config.quality_gates.min_coverage is None
    assert catalog.config.rollback_enabled is False


def test_missing_config_file_gets_defaults(make_root: MakeRoot) -> None:
    assert _load(make_root).config == Config()


def test_real_config_without_section_gets_defaults(real_root: Path) -> None:
    assert load_catalog(real_root).config == Config()


def test_empty_release_trains_section_means_defaults(make_root: MakeRoot) -> None:
    text = "release_trains:\n  # quality_gates: {min_quality_score: 90}\nauto_upgrade: {}\n"
    assert _load(make_root, config=text).config == Config()


def test_config_values_are_read(make_root: MakeRoot) -> None:
    config = {
        "release_trains": {
            "environment": "staging",
            "quality_gates": {"min_quality_score": 70, "min_coverage": 60},
            "validation": {"health_check_timeout": "2m"},
            "estimates": {"per_service": "90s"},
            "executor": {"max_parallel": 3},
            "rollback": {"enabled": True},
        }
    }
    cfg = _load(make_root, config=config).config
    assert cfg.environment == "staging"
    assert cfg.quality_gates.min_quality_score == 70
    assert cfg.quality_gates.min_coverage == 60
    assert cfg.quality_gates.max_critical_vulns == 0  # unset keys keep their defaults
    assert cfg.health_check_timeout_s == 120
    assert cfg.per_service_estimate_s == 90
    assert cfg.max_parallel == 3
    assert cfg.rollback_enabled is True


def test_unknown_key_in_release_trains_is_refused(make_root: MakeRoot) -> None:
    root = _root(make_root, config="# policies\nrelease_trains:\n  enviroment: prod\n")
    with pytest.raises(ValidationFailed) as info:
        load_catalog(root)
    (problem,) = info.value.problems
    assert problem.startswith(f"{root / 'config' / 'upgrade-policies.yaml'}:")
    assert "$.release_trains" in problem and "'enviroment'" in problem and "spelling" in problem


def test_unknown_key_in_quality_gates_is_refused(make_root: MakeRoot) -> None:
    problem = _one_problem(
        make_root, config={"release_trains": {"quality_gates": {"min_quality": 80}}}
    )
    assert "$.release_trains.quality_gates" in problem and "'min_quality'" in problem


def test_signal_without_a_source_is_refused(make_root: MakeRoot) -> None:
    problem = _one_problem(
        make_root, config={"release_trains": {"signals": {"uat": {"path": "passed"}}}}
    )
    assert "$.release_trains.signals.uat" in problem and "no source" in problem


# --- quality data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "percent"), [(0.61, 61.0), (0.0, 0.0), (85, 85.0), (85.5, 85.5), (None, None)]
)
def test_coverage_fraction_vs_percent(raw: float | None, percent: float | None) -> None:
    if percent is None:
        assert to_percent(raw) is None
    else:
        assert to_percent(raw) == pytest.approx(percent)


def test_coverage_from_catalog_is_converted_to_percent(make_root: MakeRoot) -> None:
    services = {
        "services": [
            {"name": "frac", "version": "1.0", "quality": {"coverage": 0.61}},
            {"name": "pct", "version": "1.0", "quality": {"coverage": 85}},
            {"name": "snap", "version": "1.0"},
        ]
    }
    quality = {"services": {"snap": {"score": 90, "metrics": {"coverage": 0.7}}}}
    trains = {"trains": [{"name": "t", "participants": ["frac"]}]}
    catalog = _load(make_root, services=services, quality=quality, trains=trains)
    assert catalog.services["frac"].coverage == pytest.approx(61.0)
    assert catalog.services["pct"].coverage == pytest.approx(85.0)
    assert catalog.services["snap"].coverage == pytest.approx(70.0)


def test_quality_score_comes_from_the_snapshot(make_root: MakeRoot) -> None:
    services = {
        "services": [
            {"name": "a", "version": "1.0", "quality": {"score": 50}},
            {"name": "b", "version": "1.0", "quality": {"score": 77}},
            {"name": "c", "version": "1.0"},
        ]
    }
    quality = {"services": {"a": {"score": 93}, "unrelated": {"score": 10}}}
    trains = {"trains": [{"name": "t", "participants": ["a"]}]}
    catalog = _load(make_root, services=services, quality=quality, trains=trains)
    assert catalog.services["a"].quality_score == 93.0  # the snapshot is the quality tooling's word
    assert catalog.services["b"].quality_score == 77.0  # no snapshot entry: the catalog's own
    assert catalog.services["c"].quality_score is None


def test_real_quality_scores_come_from_the_snapshot(real_root: Path) -> None:
    catalog = load_catalog(real_root)
    assert catalog.services["aggregation"].quality_score == 91.0
    low = {
        n: s.quality_score
        for n, s in catalog.services.items()
        if s.quality_score is not None and s.quality_score < 80
    }
    assert low and all(75 <= v <= 76 for v in low.values())
    assert all(catalog.services[n].critical_vulns == 1 for n in low)


@pytest.mark.parametrize(
    ("catalog_vulns", "snapshot_vulns", "expected"),
    [(0, 2, 2), (3, 1, 3), (None, 1, 1), (2, None, 2), (None, None, None), (0, 0, 0)],
)
def test_critical_vulns_take_the_max_of_both_sources(
    make_root: MakeRoot, catalog_vulns: int | None, snapshot_vulns: int | None, expected: int | None
) -> None:
    service: dict[str, Any] = {"name": "a", "version": "1.0"}
    if catalog_vulns is not None:
        service["quality"] = {"open_critical_vulns": catalog_vulns}
    snap: dict[str, Any] = {"score": 90}
    if snapshot_vulns is not None:
        snap["metrics"] = {"critical_vulns": snapshot_vulns}
    catalog = _load(
        make_root,
        services={"services": [service]},
        quality={"services": {"a": snap}},
        trains={"trains": [{"name": "t", "participants": ["a"]}]},
    )
    assert catalog.services["a"].critical_vulns == expected


# --- gates ------------------------------------------------------------------------------------


def _gate_of(make_root: MakeRoot, gate: Any, config: Any = None) -> Any:
    trains = {"trains": [{"name": "t", "participants": ["curve"], "gates": [gate]}]}
    catalog = _load(make_root, trains=trains, config=config)
    (g,) = catalog.trains["t"].gates
    return g


def _svc(
    name: str,
    *,
    score: float | None = None,
    coverage: float | None = None,
    vulns: int | None = None,
) -> Service:
    return Service(
        name=name, version="1.0", quality_score=score, coverage=coverage, critical_vulns=vulns
    )


@pytest.mark.parametrize(
    ("string_form", "object_form", "check"),
    [
        (
            "all_participants_quality >=80",
            {"name": "q", "type": "quality_score", "threshold": 80},
            GateCheck.QUALITY,
        ),
        (
            "all_participants_quality >= 80",
            {"name": "q", "type": "quality", "threshold": 80.0},
            GateCheck.QUALITY,
        ),
        (
            "all_participants_coverage >= 70",
            {"name": "c", "type": "coverage", "threshold": 70},
            GateCheck.COVERAGE,
        ),
    ],
)
def test_both_gate_forms_map_to_the_same_check(
    make_root: MakeRoot, string_form: str, object_form: dict[str, Any], check: GateCheck
) -> None:
    a = _gate_of(make_root, string_form)
    b = _gate_of(make_root, object_form)
    assert a.check is b.check is check
    assert a.comparison.comparison == b.comparison.comparison
    assert a.required is b.required is True

    services = [
        _svc("low", score=79, coverage=69),
        _svc("high", score=85, coverage=90),
        _svc("edge", score=80, coverage=70),
    ]
    ctx = GateContext(services, read_signal=lambda name: None)
    ra, rb = evaluate(a, ctx), evaluate(b, ctx)
    assert ra.outcome is rb.outcome is Outcome.FAIL
    assert ra.failing == rb.failing == ("low",)
    ok = GateContext(services[1:], read_signal=lambda name: None)
    assert evaluate(a, ok).outcome is evaluate(b, ok).outcome is Outcome.PASS


def test_both_vulnerability_gate_forms_are_the_same(make_root: MakeRoot) -> None:
    a = _gate_of(make_root, "no_open_critical_vulns")
    b = _gate_of(make_root, {"name": "v", "type": "vulnerabilities", "max_vulns": 0})
    c = _gate_of(make_root, {"name": "v", "type": "vulnerabilities", "max_vulns": 2})
    assert a.check is b.check is c.check is GateCheck.CRITICAL_VULNS
    assert a.max_vulns == b.max_vulns == 0
    services = [_svc("a", vulns=0), _svc("b", vulns=2)]
    ctx = GateContext(services, read_signal=lambda name: None)
    assert evaluate(a, ctx).failing == evaluate(b, ctx).failing == ("b",)
    assert evaluate(c, ctx).outcome is Outcome.PASS


def test_object_quality_gate_without_threshold_uses_the_config_minimum(make_root: MakeRoot) -> None:
    g = _gate_of(
        make_root,
        {"name": "q", "type": "quality_score"},
        config={"release_trains": {"quality_gates": {"min_quality_score": 72}}},
    )
    assert g.check is GateCheck.QUALITY and g.comparison.comparison.value == 72


def test_object_gate_of_unknown_type_is_a_signal_gate(make_root: MakeRoot) -> None:
    g = _gate_of(make_root, {"name": "tests_passing", "type": "ci_status", "required": False})
    assert g.check is GateCheck.SIGNAL
    assert g.signals == ("tests_passing", "ci_status")
    assert g.required is False


def test_custom_gate_form(make_root: MakeRoot) -> None:
    g = _gate_of(make_root, {"custom": "performance_regression < 10%", "required": False})
    assert g.check is GateCheck.SIGNAL and g.signals == ("performance_regression",)
    assert str(g.comparison) == "performance_regression < 10%"
    assert g.required is False


@pytest.mark.parametrize(
    ("gate", "needle", "path", "column"),
    [
        ("all_participants_quality >= 80 and x", "80 and x", "$.trains[0].gates[1]", 32),
        ({"custom": "error_rate => 1"}, "error_rate =>", "$.trains[0].gates[1].custom", 12),
    ],
)
def test_malformed_gate_expression_names_file_line_and_column(
    make_root: MakeRoot, gate: Any, needle: str, path: str, column: int
) -> None:
    trains = {
        "trains": [
            {"name": "t", "participants": ["curve"], "gates": ["no_open_critical_vulns", gate]}
        ]
    }
    root = _root(make_root, trains=trains)
    with pytest.raises(ValidationFailed) as info:
        load_catalog(root)
    (problem,) = info.value.problems
    source = root / "catalog" / "release-trains.yaml"
    line = next(i for i, text in enumerate(source.read_text().splitlines(), 1) if needle in text)
    assert problem.startswith(f"{source}:{line}: {path}: column {column}:"), problem


@pytest.mark.parametrize(
    ("gate", "fragment"),
    [
        ("all_participants_quality", "needs a numeric comparison"),
        ("all_participants_quality == true", "needs a numeric comparison"),
        ("no_open_critical_vulns < 2", "takes no comparison"),
        ("all_services_healthy == true", "takes no comparison"),
    ],
)
def test_builtin_gate_misuse_is_refused(make_root: MakeRoot, gate: str, fragment: str) -> None:
    trains = {"trains": [{"name": "t", "participants": ["curve"], "gates": [gate]}]}
    problem = _one_problem(make_root, trains=trains)
    assert "$.trains[0].gates[0]" in problem and fragment in problem


# --- dependencies -----------------------------------------------------------------------------


def test_both_dependency_forms_are_equal(make_root: MakeRoot) -> None:
    trains = {
        "trains": [
            {
                "name": "t",
                "participants": ["curve"],
                "dependencies": [
                    {"spec": "curves-api >=2.0.0"},
                    {"spec": "curves-api", "version": ">=2.0.0"},
                    {"spec": "curves-api>=2.0.0"},
                    {"library": "pricing-lib >=1.2,<2"},
                    {"library": "pricing-lib", "version": ">=1.2,<2"},
                    {"spec": "any-api"},
                ],
            }
        ]
    }
    deps = _load(make_root, trains=trains).trains["t"].dependencies
    assert deps[0] == deps[1] == deps[2] == Dependency("spec", "curves-api", ">=2.0.0")
    assert deps[3] == deps[4] == Dependency("library", "pricing-lib", ">=1.2,<2")
    assert deps[5] == Dependency("spec", "any-api", "")


@pytest.mark.parametrize(
    ("dep", "fragment"),
    [
        ({"spec": "curves-api >=2.0.0", "version": ">=2"}, "keep one"),
        ({"spec": "curves-api >>2.0.0"}, "invalid version constraint"),
        ({"spec": "curves-api", "version": "two"}, "invalid version constraint"),
        ({"library": ">=1.0"}, "no service name"),
    ],
)
def test_bad_dependency_is_reported_at_its_path(
    make_root: MakeRoot, dep: dict[str, str], fragment: str
) -> None:
    trains = {"trains": [{"name": "t", "participants": ["curve"], "dependencies": [dep]}]}
    problem = _one_problem(make_root, trains=trains)
    kind = "spec" if "spec" in dep else "library"
    # A bad `version:` value is reported at `.version`, everything else at the spec/library key.
    key = "version" if "version" in dep and fragment != "keep one" else kind
    assert f"$.trains[0].dependencies[0].{key}" in problem and fragment in problem
    assert re.search(r"release-trains\.yaml:\d+: ", problem)


# --- participant resolution ---------------------------------------------------------------------


def test_real_exact_name_wins_over_service_suffix(real_root: Path) -> None:
    catalog = load_catalog(real_root)
    assert "enrichment" in catalog.services and "enrichment-service" in catalog.services
    assert resolve(catalog, "enrichment") == "enrichment"
    assert resolve(catalog, "enrichment-service") == "enrichment-service"
    assert resolve(catalog, "curve") == "curve-service"
    assert resolve(catalog, "backtesting") == "backtesting-service"
    assert resolve(catalog, "scenario") == "scenario-service"


def _resolution_catalog(make_root: MakeRoot) -> Catalog:
    services = {
        "services": [
            {"name": "billing", "version": "1.0", "aliases": ["pay"]},
            {"name": "pay-service", "version": "1.0"},
            {"name": "ledger", "version": "1.0", "aliases": ["money"]},
            {"name": "wallet", "version": "1.0", "aliases": ["money"]},
            {"name": "scenario-service", "version": "1.0"},
            {"name": "scenario", "version": "2.0"},
            {"name": "curve-service", "version": "1.0"},
        ]
    }
    return _load(
        make_root,
        services=services,
        trains={"trains": [{"name": "t", "participants": ["billing"]}]},
    )


def test_resolution_order_exact_alias_suffix(make_root: MakeRoot) -> None:
    catalog = _resolution_catalog(make_root)
    assert resolve(catalog, "scenario") == "scenario"  # exact beats <name>-service
    assert resolve(catalog, "pay") == "billing"  # alias beats <name>-service
    assert resolve(catalog, "curve") == "curve-service"
    assert resolve(catalog, "pay-service") == "pay-service"


def test_unknown_participant_suggests_close_names(make_root: MakeRoot) -> None:
    catalog = _resolution_catalog(make_root)
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, "scenaro-service")
    message = str(info.value)
    assert "'scenaro-service'" in message and "service-index.yaml" in message
    assert "did you mean" in message and "scenario-service" in message
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, "zzzzzz")
    assert "did you mean" not in str(info.value)


def test_unknown_short_participant_suggests_the_alias(make_root: MakeRoot) -> None:
    services = {"services": [{"name": "curve-service", "version": "1.0", "aliases": ["curve"]}]}
    catalog = _load(
        make_root, services=services, trains={"trains": [{"name": "t", "participants": ["curve"]}]}
    )
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, "curv")
    assert "did you mean" in str(info.value)


def test_alias_declared_by_two_services_is_ambiguous(make_root: MakeRoot) -> None:
    catalog = _resolution_catalog(make_root)
    with pytest.raises(ResolutionError) as info:
        resolve(catalog, "money")
    message = str(info.value)
    assert "ambiguous" in message and "ledger" in message and "wallet" in message


def test_alias_repeated_by_one_service_is_not_ambiguous(make_root: MakeRoot) -> None:
    services = {"services": [{"name": "billing", "version": "1.0", "aliases": ["pay", "pay"]}]}
    catalog = _load(
        make_root,
        services=services,
        trains={"trains": [{"name": "t", "participants": ["billing"]}]},
    )
    assert resolve(catalog, "pay") == "billing"


# --- duplicates -------------------------------------------------------------------------------


def test_duplicate_train_names_are_reported(make_root: MakeRoot) -> None:
    trains = {
        "trains": [
            {"name": "t", "participants": ["curve"]},
            {"name": "u", "participants": ["curve"]},
            {"name": "t", "participants": ["scenario-service"]},
        ]
    }
    problem = _one_problem(make_root, trains=trains)
    assert re.search(
        r"release-trains\.yaml:\d+: \$\.trains\[2\]\.name: duplicate train name 't'", problem
    )


def test_duplicate_services_are_reported(make_root: MakeRoot) -> None:
    services = {"services": [*SERVICES["services"], {"name": "market-data", "version": "9.0"}]}
    problem = _one_problem(make_root, services=services)
    assert re.search(
        r"service-index\.yaml:\d+: \$\.services\[3\]\.name: duplicate service 'market-data'",
        problem,
    )


def test_participant_listed_twice_is_reported(make_root: MakeRoot) -> None:
    trains = {
        "trains": [{"name": "t", "participants": ["curve", {"name": "curve", "version": "2.0.0"}]}]
    }
    problem = _one_problem(make_root, trains=trains)
    assert "$.trains[0].participants" in problem and "listed twice" in problem


def test_every_problem_is_reported_at_once(make_root: MakeRoot) -> None:
    trains = {
        "trains": [
            {"name": "t", "participants": ["curve"], "gates": ["x >"]},
            {"name": "u", "participants": ["curve"]},
            {"name": "u", "participants": ["curve"]},
            {"name": "v", "participants": [{"name": "curve", "version": "1 0"}]},
        ]
    }
    config = {"release_trains": {"deployer": {"type": "docker"}}}
    problems = _problems(make_root, trains=trains, config=config)
    assert len(problems) == 4, problems
    text = "\n".join(problems)
    for fragment in (
        "missing value after '>'",
        "duplicate train name 'u'",
        "invalid version '1 0'",
        "'docker'",
    ):
        assert fragment in text


def test_duplicate_of_a_broken_train_is_still_reported(make_root: MakeRoot) -> None:
    trains = {
        "trains": [
            {"name": "t", "participants": ["curve"], "gates": ["x >"]},
            {"name": "t", "participants": ["curve"]},
        ]
    }
    text = "\n".join(_problems(make_root, trains=trains))
    assert "missing value after '>'" in text
    assert "duplicate train name 't'" in text


# --- YAML's unquoted types ---------------------------------------------------------------------


def _quote_it(problem: str, path: str) -> None:
    assert "quote it" in problem, problem
    assert path in problem, problem
    assert len(problem) < 400, "the message should not dump the whole document"


def test_unquoted_float_target_version_says_quote_it(make_root: MakeRoot) -> None:
    root = _root(
        make_root,
        trains="trains:\n  - name: t\n    target_version: 2.0\n    participants: [curve]\n",
    )
    with pytest.raises(ValidationFailed) as info:
        load_catalog(root)
    (problem,) = info.value.problems
    _quote_it(problem, "$.trains[0].target_version")
    assert f"{root / 'catalog' / 'release-trains.yaml'}:3:" in problem


def test_participant_named_no_says_quote_it(make_root: MakeRoot) -> None:
    problem = _one_problem(
        make_root, trains="trains:\n  - name: t\n    participants: [curve, no]\n"
    )
    _quote_it(problem, "$.trains[0].participants[1]")
    assert "boolean" in problem


def test_participant_float_version_says_quote_it(make_root: MakeRoot) -> None:
    problem = _one_problem(
        make_root,
        trains="trains:\n  - name: t\n    participants:\n      - {name: curve, version: 2.0}\n",
    )
    _quote_it(problem, "$.trains[0].participants[0].version")


def test_service_float_version_says_quote_it(make_root: MakeRoot) -> None:
    text = "services:\n  - name: curve-service\n    aliases: [curve]\n    version: 2.0\n"
    problem = _one_problem(make_root, services=text)
    _quote_it(problem, "$.services[0].version")


def test_service_named_no_says_quote_it(make_root: MakeRoot) -> None:
    text = (
        "services:\n  - name: curve-service\n    aliases: [curve]\n    version: '1.0'\n"
        "  - name: no\n    version: '1.0'\n"
    )
    problem = _one_problem(make_root, services=text)
    _quote_it(problem, "$.services[1].name")


def test_every_problem_in_the_service_index_is_reported(make_root: MakeRoot) -> None:
    text = (
        "services:\n"
        "  - name: curve-service\n    aliases: [curve]\n    version: '1.0'\n"
        "    quality: {coverage: high}\n"
        "  - name: b\n    version: '1.0'\n    dependencies: {internal: ['a@']}\n"
    )
    problems = _problems(make_root, services=text)
    text_all = "\n".join(problems)
    assert "$.services[0].quality.coverage" in text_all
    assert "$.services[1].dependencies.internal[0]" in text_all


# --- release settings a run would find unusable halfway ------------------------------------


def _services_with_release(release: dict[str, Any] | None, *, others: bool = True) -> Any:
    services = [
        {"name": "curve-service", "aliases": ["curve"], "version": "1.8.0"},
        {"name": "scenario-service", "version": "1.4.0"},
    ]
    if release is not None:
        services[0]["release"] = release
    return {"services": services if others else services[:1]}


@pytest.mark.parametrize(
    ("section", "settings", "message"),
    [
        ("health", {"type": "http"}, "http health check needs a url"),
        ("health", {"timeout": 3}, None),  # no type, url or command: no check, nothing to miss
        ("health", {"type": "command"}, "command health check needs a command"),
        ("deployer", {"type": "command"}, "needs a `deploy` argv template"),
        ("deployer", {"type": "http"}, "deployer type http needs a `url`"),
        (
            "deployer",
            {"type": "command", "deploy": ["d"], "current_version": ["c", "{version}"]},
            "current_version template may use only",
        ),
    ],
)
def test_incomplete_config_release_settings_are_refused_where_the_config_says_them(
    make_root: MakeRoot, section: str, settings: dict[str, Any], message: str | None
) -> None:
    root = _root(make_root, config={"release_trains": {section: settings}})
    if message is None:
        load_catalog(root)
        return
    with pytest.raises(ValidationFailed) as info:
        load_catalog(root)
    [problem] = info.value.problems
    assert re.search(rf"upgrade-policies\.yaml:2: \$\.release_trains\.{section}: ", problem)
    assert message in problem


@pytest.mark.parametrize(
    ("config", "release", "message"),
    [
        ({}, {"health": {"type": "http"}}, "http health check needs a url"),
        (
            {"health": {"type": "http", "url": "http://127.0.0.1:1/h"}},
            {"health": {"type": "command"}},
            "command health check needs a command",
        ),
        ({}, {"deployer": {"type": "command", "timeout": 5}}, "needs a `deploy` argv template"),
        (
            {"deployer": {"type": "command", "deploy": ["./d"]}},
            {"deployer": {"type": "http"}},  # another type: the config's keys do not apply
            "deployer type http needs a `url`",
        ),
    ],
)
def test_a_services_own_release_settings_are_checked_merged(
    make_root: MakeRoot, config: dict[str, Any], release: dict[str, Any], message: str
) -> None:
    problem = _one_problem(
        make_root,
        config={"release_trains": config},
        services=_services_with_release(release),
    )
    section = next(iter(release))
    assert re.search(rf"service-index\.yaml:\d+: \$\.services\[0\]\.release\.{section}: ", problem)
    assert message in problem and "merged with config" in problem


def test_config_settings_completed_by_every_service_are_accepted(make_root: MakeRoot) -> None:
    catalog = _load(
        make_root,
        config={"release_trains": {"health": {"type": "http", "timeout": 2}}},
        services=_services_with_release(
            {"health": {"url": "http://127.0.0.1:1/{service}"}}, others=False
        ),
    )
    assert catalog.services["curve-service"].release["health"]["url"].endswith("{service}")


def test_a_config_problem_is_said_once_not_per_service(make_root: MakeRoot) -> None:
    problems = _problems(
        make_root,
        config={"release_trains": {"health": {"type": "http"}}},
        services=_services_with_release({"health": {"timeout": 3}}),
    )
    assert len(problems) == 1 and "$.release_trains.health:" in problems[0], problems


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1e300, "longer than the 366 days allowed"),
        ("99999999999999d", "longer than the 366 days allowed"),
        ("367d", "longer than the 366 days allowed"),
    ],
)
def test_absurd_durations_are_refused(make_root: MakeRoot, value: Any, message: str) -> None:
    config = {"release_trains": {"health": {"type": "command", "command": ["true"]}}}
    config["release_trains"]["health"]["interval"] = value
    problem = _one_problem(make_root, config=config)
    assert "$.release_trains.health.interval: " in problem and message in problem
    config = {"release_trains": {"validation": {"rollback_timeout": value}}}
    problem = _one_problem(make_root, config=config)
    assert "$.release_trains.validation.rollback_timeout: " in problem and message in problem
    trains = {"trains": [{"name": "t", "participants": ["curve"], "rollback": {"timeout": value}}]}
    problem = _one_problem(make_root, trains=trains)
    assert "$.trains[0].rollback.timeout: " in problem and message in problem


def test_a_year_is_still_a_duration(make_root: MakeRoot) -> None:
    config = {"release_trains": {"validation": {"rollback_timeout": "366d"}}}
    assert _load(make_root, config=config).config.rollback_timeout_s == 366 * 86400


def test_an_incomplete_prometheus_signal_is_refused(make_root: MakeRoot) -> None:
    signals = {"error_rate": {"prometheus": {"url": "http://127.0.0.1:9090"}}}
    problem = _one_problem(make_root, config={"release_trains": {"signals": signals}})
    assert "$.release_trains.signals.error_rate.prometheus: " in problem
    assert "needs either url and query" in problem


def test_a_signal_timeout_of_zero_is_refused(make_root: MakeRoot) -> None:
    signals = {"uat": {"command": ["true"], "timeout": 0}}
    problem = _one_problem(make_root, config={"release_trains": {"signals": signals}})
    assert "$.release_trains.signals.uat.timeout: " in problem and "more than 0 s" in problem


def test_the_merge_rules_are_the_runs_own() -> None:
    from release_trains.deployers.select import deployer_settings as run_deployer_settings
    from release_trains.probes import health_settings as run_health_settings
    from release_trains.release_settings import deployer_settings, health_settings

    config = Config(
        deployer={"type": "command", "deploy": ["./d"], "timeout": 5},
        health={"type": "http", "url": "http://h", "timeout": 1},
    )
    for own in ({}, {"timeout": 9}, {"type": "http", "url": "http://x"}, {"type": "command"}):
        service = Service("s", "1.0", release={"deployer": own, "health": own})
        catalog = Catalog(Path("."), {"s": service}, {}, {}, {}, {}, config, {})
        assert deployer_settings(config.deployer, own) == run_deployer_settings(catalog, service)
        assert health_settings(config.health, own) == run_health_settings(
            config.health, service.release
        )


# --- one service, two names ---------------------------------------------------------------


@pytest.mark.parametrize(
    "participants",
    [
        ["curve", "curve-service"],  # an alias and the full name
        ["curve-service", {"name": "curve", "version": "2.0.0"}],
        ["scenario", "scenario-service"],  # `<name>-service` and the full name
    ],
)
def test_a_service_listed_twice_through_another_name_is_refused(
    make_root: MakeRoot, participants: list[Any]
) -> None:
    trains = {"trains": [{"name": "t", "participants": participants}]}
    problem = _one_problem(make_root, trains=trains)
    first = participants[0] if isinstance(participants[0], str) else participants[0]["name"]
    second = participants[1] if isinstance(participants[1], str) else participants[1]["name"]
    assert re.search(r"release-trains\.yaml:\d+: \$\.trains\[0\]\.participants\[1\]: ", problem)
    assert f"participants[0] {first!r} (line " in problem
    assert f"and participants[1] {second!r} both resolve to service" in problem
