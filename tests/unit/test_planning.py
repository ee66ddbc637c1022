"""Planning: target versions, dependency checks, gates, ordering and the estimate, built directly
from catalogs in tmp_path (no CLI)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from release_trains.catalog import load_catalog
from release_trains.errors import InputError, UnknownTrainError, ValidationFailed
from release_trains.gates import Health
from release_trains.models import Outcome, Service
from release_trains.planning import Plan, plan_train

MakeRoot = Callable[..., Path]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def _service(
    name: str,
    version: str | None = "1.0.0",
    *,
    deps: tuple[str, ...] = (),
    score: float | None = 90,
    coverage: float | None = None,
    vulns: int | None = 0,
    **extra: Any,
) -> dict[str, Any]:
    s: dict[str, Any] = {"name": name, "dependencies": {"internal": list(deps)}}
    if version is not None:
        s["version"] = version
    quality: dict[str, Any] = {}
    if score is not None:
        quality["score"] = score
    if coverage is not None:
        quality["coverage"] = coverage
    if vulns is not None:
        quality["open_critical_vulns"] = vulns
    s["quality"] = quality
    s.update(extra)
    return s


PLATFORM = [
    _service("market-data", "3.0.2"),
    _service(
        "pricing-service",
        "2.1.0",
        deps=("market-data",),
        aliases=["pricing"],
        api_contracts=["pricing-api@1.2.0"],
    ),
    _service("curve-service", "1.8.0", deps=("market-data@3.0.0",), aliases=["curve"]),
    _service("backtesting-service", "1.3.0", deps=("curve-service",)),
    _service("scenario-service", "1.4.0", deps=("curve-service", "pricing-service")),
]


def _plan(
    make_root: MakeRoot,
    train: dict[str, Any],
    *,
    services: list[dict[str, Any]] | None = None,
    config: Any = None,
    specs: Any = None,
    extra: dict[str, Any] | None = None,
    **kw: Any,
) -> Plan:
    train = {"name": "t", **train}
    files: dict[str, Any] = {
        "catalog/release-trains.yaml": {"trains": [train]},
        "catalog/service-index.yaml": {"services": PLATFORM if services is None else services},
    }
    if config is not None:
        files["config/upgrade-policies.yaml"] = config
    if specs is not None:
        files["catalog/specs-index.yaml"] = specs
    files.update(extra or {})
    return plan_train(load_catalog(make_root(files)), "t", now=NOW, **kw)


def _versions(plan: Plan) -> dict[str, tuple[str | None, str | None]]:
    return {p.service: (p.from_version, p.to_version) for p in plan.participants}


def _gate(plan: Plan, label: str) -> Any:
    matches = [g for g in plan.gates if g.gate == label]
    assert len(matches) == 1, [g.gate for g in plan.gates]
    return matches[0]


# --- target versions -------------------------------------------------------------------------

Q4 = ["curve", "backtesting-service", "scenario-service"]


def test_service_prefix_goes_only_to_that_service(make_root: MakeRoot) -> None:
    plan = _plan(make_root, {"target_version": "curve-service:2.0.0", "participants": Q4})
    assert _versions(plan) == {
        "curve-service": ("1.8.0", "2.0.0"),
        "backtesting-service": ("1.3.0", "1.3.0"),
        "scenario-service": ("1.4.0", "1.4.0"),
    }
    assert "backtesting-service: redeploy, no version change (1.3.0)" in plan.notes
    assert "scenario-service: redeploy, no version change (1.4.0)" in plan.notes
    assert not any(n.startswith("curve-service") for n in plan.notes)
    assert [p.redeploy for p in plan.participants] == [False, True, True]
    assert plan.ready, plan.problems


def test_prefix_matches_the_participant_as_written(make_root: MakeRoot) -> None:
    plan = _plan(make_root, {"target_version": "curve:2.0.0", "participants": Q4})
    assert _versions(plan)["curve-service"] == ("1.8.0", "2.0.0")
    assert _versions(plan)["scenario-service"] == ("1.4.0", "1.4.0")


@pytest.mark.parametrize(
    ("target", "version"),
    [
        ("security-patch:2025-Q1", "2025-Q1"),
        ("performance:v2.1.0", "v2.1.0"),
        ("2.5.0", "2.5.0"),
        ("2025-Q1", "2025-Q1"),
    ],
)
def test_label_prefix_or_bare_version_goes_to_every_participant(
    make_root: MakeRoot, target: str, version: str
) -> None:
    plan = _plan(make_root, {"target_version": target, "participants": Q4})
    assert {to for _, to in _versions(plan).values()} == {version}
    assert not any("redeploy" in n for n in plan.notes)
    assert plan.ready, plan.problems


def test_participant_version_wins(make_root: MakeRoot) -> None:
    participants = [
        "curve",
        {"name": "scenario-service", "version": "1.5.0"},
        "backtesting-service",
    ]
    plan = _plan(make_root, {"target_version": "curve-service:2.0.0", "participants": participants})
    assert _versions(plan) == {
        "curve-service": ("1.8.0", "2.0.0"),
        "scenario-service": ("1.4.0", "1.5.0"),
        "backtesting-service": ("1.3.0", "1.3.0"),
    }
    bare = _plan(make_root, {"target_version": "3.0.0", "participants": participants})
    assert _versions(bare)["scenario-service"] == ("1.4.0", "1.5.0")
    assert _versions(bare)["curve-service"] == ("1.8.0", "3.0.0")
    own = _plan(
        make_root,
        {
            "target_version": "curve:2.0.0",
            "participants": [{"name": "curve", "version": "2.1.0"}, "market-data"],
        },
    )
    assert _versions(own) == {
        "curve-service": ("1.8.0", "2.1.0"),
        "market-data": ("3.0.2", "3.0.2"),
    }


def test_no_target_redeploys_everyone(make_root: MakeRoot) -> None:
    plan = _plan(make_root, {"participants": ["curve", "market-data"]})
    assert _versions(plan) == {
        "curve-service": ("1.8.0", "1.8.0"),
        "market-data": ("3.0.2", "3.0.2"),
    }
    assert len([n for n in plan.notes if "redeploy, no version change" in n]) == 2


def test_known_current_version_is_the_from_version(make_root: MakeRoot) -> None:
    plan = _plan(
        make_root,
        {"target_version": "curve-service:2.0.0", "participants": Q4},
        current_versions={"curve-service": "1.9.0", "scenario-service": "1.4.1"},
    )
    assert _versions(plan)["curve-service"] == ("1.9.0", "2.0.0")
    assert _versions(plan)["scenario-service"] == ("1.4.1", "1.4.1")
    assert _versions(plan)["backtesting-service"] == ("1.3.0", "1.3.0")


def test_first_install(make_root: MakeRoot) -> None:
    services = [*PLATFORM, _service("new-thing", None)]
    plan = _plan(
        make_root, {"target_version": "2.0.0", "participants": ["new-thing"]}, services=services
    )
    assert _versions(plan) == {"new-thing": (None, "2.0.0")}
    assert plan.participants[0].first_install
    assert any("first install" in n for n in plan.notes)
    assert plan.ready

    nothing = _plan(make_root, {"participants": ["new-thing"]}, services=services)
    assert not nothing.ready
    assert any("new-thing" in p and "no version to release" in p for p in nothing.problems)


def test_unknown_train_lists_the_trains(make_root: MakeRoot) -> None:
    root = make_root(
        {
            "catalog/release-trains.yaml": {
                "trains": [
                    {"name": "a", "participants": ["curve"]},
                    {"name": "b", "participants": ["curve"]},
                ]
            },
            "catalog/service-index.yaml": {"services": PLATFORM},
        }
    )
    with pytest.raises(UnknownTrainError) as info:
        plan_train(load_catalog(root), "c", now=NOW)
    assert "'c'" in str(info.value) and "a, b" in str(info.value)


def test_every_unresolved_participant_is_reported_together(make_root: MakeRoot) -> None:
    with pytest.raises(InputError) as info:  # from loading the catalog or from planning
        _plan(make_root, {"participants": ["curve", "nope-one", "nope-two"]})
    assert "nope-one" in str(info.value) and "nope-two" in str(info.value)


def test_two_names_for_one_service_are_refused(make_root: MakeRoot) -> None:
    # Refused when the catalog is read, where the train says it (it used to get as far as
    # the plan, which could name no file or line).
    with pytest.raises(ValidationFailed) as info:
        _plan(make_root, {"participants": ["curve", "curve-service"]})
    [problem] = info.value.problems
    assert re.search(r"release-trains\.yaml:\d+: \$\.trains\[0\]\.participants\[1\]: ", problem)
    assert "'curve'" in problem and "'curve-service'" in problem and "list it once" in problem


# --- dependencies -------------------------------------------------------------------------------

SPECS = {
    "specs": {"curves-api": {"versions": ["1.9.0", "2.0.1"]}},
    "libraries": {"pricing-lib": {"versions": ["1.2.0", "1.3.1"]}},
}


def _deps(plan: Plan) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {f"{d.kind} {d.name} {d.constraint}": (d.outcome, d.found) for d in plan.dependencies}


def test_dependency_outcomes(make_root: MakeRoot) -> None:
    deps = [
        {"spec": "curves-api >=2.0.0"},
        {"spec": "curves-api >=3.0.0"},
        {"spec": "reporting-api >=1.0.0"},
        {"spec": "pricing-api >=1.1.0"},  # published only through pricing-service's api_contracts
        {"library": "pricing-lib >=1.2,<2"},
        {"library": "pricing-lib", "version": ">=2"},
    ]
    plan = _plan(make_root, {"participants": ["curve"], "dependencies": deps}, specs=SPECS)
    assert _deps(plan) == {
        "spec curves-api >=2.0.0": ("satisfied", ("1.9.0", "2.0.1")),
        "spec curves-api >=3.0.0": ("unsatisfied", ("1.9.0", "2.0.1")),
        "spec reporting-api >=1.0.0": ("unknown", ()),
        "spec pricing-api >=1.1.0": ("satisfied", ("1.2.0",)),
        "library pricing-lib >=1.2,<2": ("satisfied", ("1.2.0", "1.3.1")),
        "library pricing-lib >=2": ("unsatisfied", ("1.2.0", "1.3.1")),
    }
    assert not plan.ready
    unsatisfied = next(d for d in plan.dependencies if d.constraint == ">=3.0.0")
    assert "1.9.0" in unsatisfied.detail and "2.0.1" in unsatisfied.detail
    assert unsatisfied.detail in plan.problems
    assert any("reporting-api" in p for p in plan.problems)
    assert not any("pricing-api" in p or "2.0.0" in p for p in plan.problems)


def test_satisfied_dependencies_leave_the_plan_ready(make_root: MakeRoot) -> None:
    plan = _plan(
        make_root,
        {"participants": ["curve"], "dependencies": [{"spec": "curves-api >=2.0.0"}]},
        specs=SPECS,
    )
    assert plan.ready, plan.problems


def test_flat_latest_version_specs_form(make_root: MakeRoot) -> None:
    specs = {"curves-api": {"latest_version": "2.1.0"}, "metadata": {"generated_at": "x"}}
    deps = [{"spec": "curves-api >=2.0.0"}, {"spec": "curves-api <2"}]
    plan = _plan(make_root, {"participants": ["curve"], "dependencies": deps}, specs=specs)
    assert _deps(plan) == {
        "spec curves-api >=2.0.0": ("satisfied", ("2.1.0",)),
        "spec curves-api <2": ("unsatisfied", ("2.1.0",)),
    }


def test_api_contracts_and_specs_index_are_merged(make_root: MakeRoot) -> None:
    specs = {"specs": {"pricing-api": {"versions": ["1.0.0"]}}}
    plan = _plan(
        make_root,
        {"participants": ["curve"], "dependencies": [{"spec": "pricing-api ==1.2.0"}]},
        specs=specs,
    )
    assert _deps(plan) == {"spec pricing-api ==1.2.0": ("satisfied", ("1.0.0", "1.2.0"))}


def test_prerelease_satisfies_a_lower_bound(make_root: MakeRoot) -> None:
    specs = {"specs": {"curves-api": {"versions": ["2.1.0rc1"]}}}
    plan = _plan(
        make_root,
        {
            "participants": ["curve"],
            "dependencies": [{"spec": "curves-api >=2.0.0"}, {"spec": "curves-api <2"}],
        },
        specs=specs,
    )
    assert [d.outcome for d in plan.dependencies] == ["satisfied", "unsatisfied"]


# --- quality gates ------------------------------------------------------------------------------


def test_quality_fails_per_service_even_when_the_average_passes(make_root: MakeRoot) -> None:
    services = [_service("a", score=100), _service("b", score=100), _service("c", score=75)]
    plan = _plan(
        make_root,
        {"participants": ["a", "b", "c"], "gates": ["all_participants_quality >= 80"]},
        services=services,
    )
    gate = _gate(plan, "all_participants_quality >= 80")
    assert gate.outcome is Outcome.FAIL
    assert gate.failing == ("c",)
    assert "c (75)" in gate.detail and "a (" not in gate.detail and "b (" not in gate.detail
    assert not plan.ready
    assert any("all_participants_quality" in p and "c (75)" in p for p in plan.problems)


def test_quality_unknown_blocks(make_root: MakeRoot) -> None:
    services = [_service("a", score=95), _service("b", score=None)]
    plan = _plan(
        make_root,
        {"participants": ["a", "b"], "gates": ["all_participants_quality >= 80"]},
        services=services,
    )
    gate = _gate(plan, "all_participants_quality >= 80")
    assert gate.outcome is Outcome.UNKNOWN and "b" in gate.detail
    assert not plan.ready


def test_coverage_gate_compares_fractions_as_percent(make_root: MakeRoot) -> None:
    services = [
        _service("frac", coverage=0.61),
        _service("pct", coverage=85),
        _service("frac-high", coverage=0.9),
    ]
    gates = ["all_participants_coverage >= 70"]
    plan = _plan(
        make_root, {"participants": ["frac", "pct", "frac-high"], "gates": gates}, services=services
    )
    gate = _gate(plan, "all_participants_coverage >= 70")
    assert gate.outcome is Outcome.FAIL
    assert gate.failing == ("frac",)
    assert "frac (61)" in gate.detail
    lower = _plan(
        make_root,
        {"participants": ["frac", "pct"], "gates": ["all_participants_coverage >= 60"]},
        services=services,
    )
    assert _gate(lower, "all_participants_coverage >= 60").outcome is Outcome.PASS


def test_config_coverage_minimum_is_a_percent(make_root: MakeRoot) -> None:
    services = [_service("a", coverage=0.74), _service("b", coverage=0.76)]
    config = {"release_trains": {"quality_gates": {"min_coverage": 75}}}
    plan = _plan(make_root, {"participants": ["a", "b"]}, services=services, config=config)
    gate = next(g for g in plan.gates if "coverage" in g.gate)
    assert gate.outcome is Outcome.FAIL and gate.failing == ("a",)


# --- signal gates ----------------------------------------------------------------------------


def test_custom_gate_from_a_static_signal(make_root: MakeRoot) -> None:
    gates = [{"custom": "performance_regression < 10%"}]
    ok = _plan(
        make_root,
        {"participants": ["curve"], "gates": gates},
        config={"release_trains": {"signals": {"performance_regression": {"value": 4.2}}}},
    )
    gate = _gate(ok, "performance_regression < 10%")
    assert gate.outcome is Outcome.PASS and "4.2" in gate.detail
    assert ok.ready
    bad = _plan(
        make_root,
        {"participants": ["curve"], "gates": gates},
        config={"release_trains": {"signals": {"performance_regression": {"value": "12.5%"}}}},
    )
    assert _gate(bad, "performance_regression < 10%").outcome is Outcome.FAIL
    assert not bad.ready


def test_custom_gates_from_a_json_file(make_root: MakeRoot) -> None:
    config = {
        "release_trains": {
            "signals": {
                "uat": {"file": "analysis/signals/uat.json", "path": "results.passed"},
                "regression": {"file": "analysis/signals/uat.json", "path": "$.perf.regression"},
            }
        }
    }
    gates = ["uat", {"custom": "regression < 10%"}, "uat == true"]
    doc = {"results": {"passed": True}, "perf": {"regression": "4.5%"}}
    plan = _plan(
        make_root,
        {"participants": ["curve"], "gates": gates},
        config=config,
        extra={"analysis/signals/uat.json": json.dumps(doc)},
    )
    assert [
        g.outcome for g in plan.gates if g.gate in ("uat", "regression < 10%", "uat == true")
    ] == [Outcome.PASS] * 3
    assert plan.ready, plan.problems

    doc = {"results": {"passed": False}, "perf": {"regression": 11}}
    failing = _plan(
        make_root,
        {"participants": ["curve"], "gates": gates},
        config=config,
        extra={"analysis/signals/uat.json": json.dumps(doc)},
    )
    assert [
        g.outcome for g in failing.gates if g.gate in ("uat", "regression < 10%", "uat == true")
    ] == [Outcome.FAIL] * 3


def test_signal_file_that_is_missing_is_unknown(make_root: MakeRoot) -> None:
    config = {
        "release_trains": {
            "signals": {"uat": {"file": "analysis/signals/none.json", "path": "passed"}}
        }
    }
    plan = _plan(make_root, {"participants": ["curve"], "gates": ["uat"]}, config=config)
    gate = _gate(plan, "uat")
    assert gate.outcome is Outcome.UNKNOWN and "none.json" in gate.detail
    assert not plan.ready


def test_missing_signal_is_unknown_and_blocks(make_root: MakeRoot) -> None:
    plan = _plan(make_root, {"participants": ["curve"], "gates": [{"custom": "error_rate < 1"}]})
    gate = _gate(plan, "error_rate < 1")
    assert gate.outcome is Outcome.UNKNOWN
    assert "error_rate" in gate.detail and "release_trains.signals" in gate.detail
    assert not plan.ready
    assert any(p.startswith("gate error_rate < 1: unknown") for p in plan.problems)


def test_object_gate_of_unknown_type_reads_its_signal(make_root: MakeRoot) -> None:
    config = {"release_trains": {"signals": {"ci_status": {"value": "passed"}}}}
    gate = {"name": "tests_passing", "type": "ci_status", "required": True}
    plan = _plan(make_root, {"participants": ["curve"], "gates": [gate]}, config=config)
    assert _gate(plan, "tests_passing").outcome is Outcome.PASS
    assert plan.ready, plan.problems


def test_optional_gate_failing_does_not_block(make_root: MakeRoot) -> None:
    services = [_service("a", score=60)]
    gates = [
        {"name": "q", "type": "quality_score", "threshold": 80, "required": False},
        {"custom": "error_rate < 1", "required": False},
    ]
    plan = _plan(make_root, {"participants": ["a"], "gates": gates}, services=services)
    assert _gate(plan, "q").outcome is Outcome.FAIL
    assert _gate(plan, "q").required is False
    assert _gate(plan, "error_rate < 1").outcome is Outcome.UNKNOWN
    assert plan.ready, plan.problems


def test_gate_evaluated_later_does_not_block_the_plan(make_root: MakeRoot) -> None:
    plan = _plan(
        make_root,
        {"participants": ["curve"], "gates": [{"custom": "error_rate < 1", "when": "after"}]},
    )
    gate = _gate(plan, "error_rate < 1")
    assert gate.outcome is Outcome.UNKNOWN and gate.when == "after"
    assert plan.ready, plan.problems


# --- standard (config) gates -------------------------------------------------------------------


def test_standard_config_gates_apply(make_root: MakeRoot) -> None:
    services = [
        _service("a", score=79, vulns=1, coverage=0.5),
        _service("b", score=90, vulns=0, coverage=0.9),
    ]
    plan = _plan(make_root, {"participants": ["a", "b"]}, services=services)
    labels = {g.gate: g for g in plan.gates}
    assert set(labels) == {
        "all_participants_quality >= 80",
        "no_open_critical_vulns",
    }  # coverage: opt-in
    assert all(g.outcome is Outcome.FAIL and g.failing == ("a",) for g in labels.values())
    assert not plan.ready

    config = {
        "release_trains": {
            "quality_gates": {"min_quality_score": 75, "max_critical_vulns": 1, "min_coverage": 60}
        }
    }
    relaxed = _plan(make_root, {"participants": ["a", "b"]}, services=services, config=config)
    cov = _gate(relaxed, "all_participants_coverage >= 60")
    assert cov.outcome is Outcome.FAIL and cov.failing == ("a",)
    assert _gate(relaxed, "all_participants_quality >= 75").outcome is Outcome.PASS
    assert _gate(relaxed, "no_open_critical_vulns").outcome is Outcome.PASS

    off = {
        "release_trains": {"quality_gates": {"min_quality_score": None, "max_critical_vulns": None}}
    }
    assert _plan(make_root, {"participants": ["a", "b"]}, services=services, config=off).gates == ()


def test_train_threshold_wins_over_config_for_the_same_check(make_root: MakeRoot) -> None:
    services = [_service("a", score=75, vulns=1)]
    config = {
        "release_trains": {"quality_gates": {"min_quality_score": 90, "max_critical_vulns": 0}}
    }
    gates = [
        {"name": "q", "type": "quality_score", "threshold": 70},
        {"name": "v", "type": "vulnerabilities", "max_vulns": 1},
    ]
    plan = _plan(
        make_root, {"participants": ["a"], "gates": gates}, services=services, config=config
    )
    assert [g.gate for g in plan.gates] == ["q", "v"]
    assert plan.ready, plan.problems

    stricter = _plan(
        make_root,
        {"participants": ["a"], "gates": ["all_participants_quality > 76"]},
        services=services,
        config={"release_trains": {"quality_gates": {"min_quality_score": 50}}},
    )
    assert [g.gate for g in stricter.gates] == [
        "no_open_critical_vulns",
        "all_participants_quality > 76",
    ]
    assert _gate(stricter, "all_participants_quality > 76").outcome is Outcome.FAIL


# --- health ------------------------------------------------------------------------------------


def test_health_gate_is_checked_after_release_not_at_plan_time(make_root: MakeRoot) -> None:
    for gate in ("all_services_healthy", {"name": "healthy", "type": "health"}):
        plan = _plan(make_root, {"participants": ["curve"], "gates": [gate]})
        (result,) = [g for g in plan.gates if g.gate in ("all_services_healthy", "healthy")]
        assert result.when == "after" and result.outcome is Outcome.UNKNOWN
        assert plan.ready, plan.problems


def _health_before(make_root: MakeRoot, probe: Callable[[Service], Health]) -> Any:
    gates = [{"custom": "all_services_healthy", "when": "before"}]
    plan = _plan(
        make_root, {"participants": ["curve", "market-data"], "gates": gates}, check_health=probe
    )
    return plan, _gate(plan, "all_services_healthy")


def test_not_verified_health_is_not_a_failure(make_root: MakeRoot) -> None:
    plan, gate = _health_before(
        make_root, lambda s: Health(s.name, None if s.name == "market-data" else True, "probe")
    )
    assert gate.outcome is Outcome.PASS
    assert "not verified" in gate.detail and "market-data" in gate.detail
    assert plan.ready, plan.problems


def test_unhealthy_service_fails_the_health_gate(make_root: MakeRoot) -> None:
    plan, gate = _health_before(
        make_root, lambda s: Health(s.name, s.name != "market-data", "probe")
    )
    assert gate.outcome is Outcome.FAIL and gate.failing == ("market-data",)
    assert not plan.ready


# --- ordering ------------------------------------------------------------------------------------


def test_cycle_among_participants_blocks_the_plan(make_root: MakeRoot) -> None:
    services = [_service("a", deps=("b",)), _service("b", deps=("a",)), _service("c")]
    plan = _plan(make_root, {"participants": ["c", "b", "a"]}, services=services)
    assert not plan.ready
    assert any("a -> b -> a" in p for p in plan.problems), plan.problems
    assert plan.ordering.cycle == ("a", "b", "a")


def test_order_is_transitive_through_a_non_participant(make_root: MakeRoot) -> None:
    services = [
        _service("api", deps=("middle@1.0.0",)),
        _service("middle", deps=("store",)),
        _service("store"),
        _service("loner"),
    ]
    plan = _plan(make_root, {"participants": ["api", "store", "loner"]}, services=services)
    assert plan.ordering.order.index("store") < plan.ordering.order.index("api")
    assert plan.ordering.waves == (("loner", "store"), ("api",))
    assert "middle" not in plan.ordering.order
    assert plan.ready


def test_sample_like_order(make_root: MakeRoot) -> None:
    plan = _plan(
        make_root,
        {
            "target_version": "curve-service:2.0.0",
            "participants": ["scenario-service", "backtesting-service", "curve"],
        },
    )
    assert plan.ordering.waves == (("curve-service",), ("backtesting-service", "scenario-service"))
    assert plan.ordering.order == ("curve-service", "backtesting-service", "scenario-service")


# --- estimate ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("train", "seconds"),
    [
        ({"estimated_duration": "2 hours"}, 7200),
        ({"estimated_duration": "1h30m"}, 5400),
        ({"estimated_duration": 90}, 90),
        ({"schedule": {"estimated_duration": "2h"}}, 7200),
        ({"estimated_duration": "45m", "schedule": {"estimated_duration": "2h"}}, 2700),
    ],
)
def test_estimate_from_the_train(
    make_root: MakeRoot, train: dict[str, Any], seconds: float
) -> None:
    plan = _plan(make_root, {"participants": Q4, **train})
    assert plan.estimated_duration_s == seconds


def test_estimate_per_service_over_waves(make_root: MakeRoot) -> None:
    # curve in wave 1; backtesting and scenario together in wave 2
    plan = _plan(
        make_root,
        {"participants": Q4},
        config={"release_trains": {"estimates": {"per_service": "10m"}}},
    )
    assert plan.estimated_duration_s == 3 * 600
    parallel = _plan(
        make_root,
        {"participants": Q4},
        config={
            "release_trains": {"estimates": {"per_service": "10m"}, "executor": {"max_parallel": 2}}
        },
    )
    assert parallel.estimated_duration_s == 2 * 600
    default = _plan(make_root, {"participants": ["curve"]})
    assert default.estimated_duration_s == 600


def test_estimate_uses_a_services_own_estimate(make_root: MakeRoot) -> None:
    services = [_service("slow", release={"estimated_duration": "30m"}), _service("fast")]
    config = {"release_trains": {"estimates": {"per_service": "10m"}}}
    plan = _plan(make_root, {"participants": ["slow", "fast"]}, services=services, config=config)
    assert plan.estimated_duration_s == 30 * 60 + 10 * 60


# --- the document --------------------------------------------------------------------------------


def test_plan_json_has_the_contract_keys(make_root: MakeRoot) -> None:
    plan = _plan(
        make_root,
        {
            "target_version": "curve-service:2.0.0",
            "participants": Q4,
            "dependencies": [{"spec": "x-api"}],
        },
    )
    doc = plan.to_json()
    for key in (
        "train",
        "ready",
        "status",
        "participants",
        "order",
        "waves",
        "dependencies",
        "gates",
        "problems",
        "estimated_duration_s",
    ):
        assert key in doc
    assert doc["ready"] is False and doc["problems"]
    assert doc["participants"][0] == {
        **doc["participants"][0],
        "name": "curve",
        "service": "curve-service",
        "from_version": "1.8.0",
        "to_version": "2.0.0",
        "quality_score": 90.0,
        "critical_vulns": 0,
    }
    assert doc["dependencies"][0]["outcome"] == "unknown"
    json.dumps(doc)  # serialisable as is


# --- executables ---------------------------------------------------------------------------


def test_executables_resolve_against_the_root_only_when_relative_paths(tmp_path: Path) -> None:
    from release_trains.executables import problem, resolve, resolve_argv

    assert resolve("./bin/deploy", tmp_path) == str(tmp_path / "bin" / "deploy")
    assert resolve("bin/deploy", tmp_path) == str(tmp_path / "bin" / "deploy")
    assert resolve("../tools/deploy", tmp_path) == str(tmp_path.parent / "tools" / "deploy")
    assert resolve("kubectl", tmp_path) == "kubectl"  # PATH, when it runs
    assert resolve("/usr/bin/env", tmp_path) == "/usr/bin/env"
    assert resolve_argv(["./d", "./not-the-executable"], tmp_path) == [
        str(tmp_path / "d"),
        "./not-the-executable",
    ]
    (tmp_path / "bin").mkdir()
    assert "is a folder" in (problem("./bin", tmp_path) or "")
    assert "executable not found" in (problem("./bin/nope", tmp_path) or "")
    assert problem("kubectl-that-does-not-exist", tmp_path) is None  # not judged: PATH's
    assert problem("/bin/sh", tmp_path) is None


# --- quality_gates.max_failure_rate ----------------------------------------------------------


def _snapshot(metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "catalog/latest_quality_snapshot.json": {
            "services": {name: {"metrics": m} for name, m in metrics.items()}
        }
    }


FAILURE_GATE = "all_participants_failure_rate <= 5"


def test_max_failure_rate_gates_every_participant(make_root: MakeRoot) -> None:
    services = [_service("a"), _service("b"), _service("c")]
    config = {"release_trains": {"quality_gates": {"max_failure_rate": 5}}}
    snapshot = _snapshot(
        {
            "a": {"build_success_rate": 0.95},  # exactly 5 %: meets "at most 5 %"
            "b": {"failure_rate": 0.08},  # 8 %
            "c": {"build_success_rate": 99},  # percents are read as percents
        }
    )
    plan = _plan(
        make_root,
        {"participants": ["a", "b", "c"]},
        services=services,
        config=config,
        extra=snapshot,
    )
    gate = _gate(plan, FAILURE_GATE)
    assert gate.outcome is Outcome.FAIL and gate.failing == ("b",), gate
    assert "b (8)" in gate.detail
    assert any(p.startswith(f"gate {FAILURE_GATE}: fail") for p in plan.problems)

    snapshot = _snapshot({"a": {"build_success_rate": 0.95}, "c": {"failure_rate": 0.01}})
    plan = _plan(
        make_root, {"participants": ["a", "c"]}, services=services, config=config, extra=snapshot
    )
    assert _gate(plan, FAILURE_GATE).outcome is Outcome.PASS
    assert plan.ready, plan.problems


def test_max_failure_rate_without_data_is_unknown_and_blocks(make_root: MakeRoot) -> None:
    services = [_service("a"), _service("b")]
    config = {"release_trains": {"quality_gates": {"max_failure_rate": 5}}}
    snapshot = _snapshot({"a": {"build_success_rate": 1.0}})
    plan = _plan(
        make_root, {"participants": ["a", "b"]}, services=services, config=config, extra=snapshot
    )
    gate = _gate(plan, FAILURE_GATE)
    assert gate.outcome is Outcome.UNKNOWN and "no failure rate known for b" in gate.detail
    assert not plan.ready


def test_max_failure_rate_is_opt_in(make_root: MakeRoot) -> None:
    plan = _plan(make_root, {"participants": ["curve"]})
    assert not any("failure_rate" in g.gate for g in plan.gates)


def test_a_train_may_gate_on_the_failure_rate_itself(make_root: MakeRoot) -> None:
    services = [_service("a")]
    snapshot = _snapshot({"a": {"build_success_rate": 0.97}})
    train = {"participants": ["a"], "gates": ["all_participants_failure_rate < 2%"]}
    plan = _plan(make_root, train, services=services, extra=snapshot)
    assert _gate(plan, "all_participants_failure_rate < 2%").outcome is Outcome.FAIL


def test_a_first_install_whose_deploy_needs_a_previous_version_is_not_ready(
    make_root: MakeRoot,
) -> None:
    deployer = {"type": "command", "deploy": ["/bin/true", "{service}", "{previous_version}"]}
    plan = _plan(
        make_root,
        {"participants": [{"name": "new", "version": "1.0.0"}]},
        services=[_service("new", version=None)],
        config={"release_trains": {"deployer": deployer}},
    )
    assert any(
        p == "deployer deploy of new: it is a first install, but the template uses "
        "{previous_version}"
        for p in plan.problems
    ), plan.problems
