"""Publishing standards and site configs: immutable versions, no-op re-runs, acknowledgements, rollback, drift."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlmodel import func, select

from brand_hub import distribution
from brand_hub.audit import SYSTEM
from brand_hub.distribution import DistributionError
from brand_hub.models import AuditEvent, SiteStatus
from brand_hub.models.standards import SiteConfigState, SiteConfigVersion, Standard, StandardAcknowledgement
from standards import site_config, standard_format
from standards.canonical import content_hash
from standards.loader import InvalidFiles
from tests.builders import make_franchisee, make_site, make_user

NOW = datetime(2026, 10, 1, 2, 0, tzinfo=timezone.utc)


def library_copy(tmp_path: Path, name: str) -> Path:
    source = standard_format.LIBRARY_DIR if name == "standards" else site_config.LIBRARY_DIR
    folder = tmp_path / name
    shutil.copytree(source, folder)
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def publish_standards(session, folder: Path, now: datetime = NOW):
    return distribution.publish_standards(session=session, specs=standard_format.load_folder(folder), actor=SYSTEM,
                                          now=now)


def publish_configs(session, folder: Path | None = None, now: datetime = NOW):
    return distribution.publish_configs(session=session, layers=site_config.load_folder(folder), actor=SYSTEM,
                                        now=now)


def test_publishing_standards_twice_without_changes_creates_nothing(session, tmp_path):
    make_site(session, make_franchisee(session))
    folder = library_copy(tmp_path, "standards")
    first = publish_standards(session, folder)
    session.commit()
    counts = (count(session, Standard), count(session, StandardAcknowledgement), count(session, AuditEvent))
    second = publish_standards(session, folder)
    session.commit()
    # 12 standards in the library (issue 11 added revenue-plausibility)
    assert len(first.published) == 12 and first.acknowledgements > 0
    assert second.published == [] and second.acknowledgements == 0 and len(second.unchanged) == 12
    assert (count(session, Standard), count(session, StandardAcknowledgement), count(session, AuditEvent)) == counts


def test_a_changed_standard_becomes_a_new_version_and_the_old_one_stays(session, tmp_path):
    site = make_site(session, make_franchisee(session))
    folder = library_copy(tmp_path, "standards")
    publish_standards(session, folder)
    edit(folder / "space-noise.yaml", "version: 1", "version: 2")
    edit(folder / "space-noise.yaml", "max: 50", "max: 48")
    result = publish_standards(session, folder, NOW + timedelta(days=3))
    assert [(s.key, s.version) for s in result.published] == [("noise", 2)]
    versions = distribution.standard_versions(session=session, key="noise")
    assert [v.version for v in versions] == [2, 1]
    assert versions[1].content["rules"][0]["max"] == 50
    ack = session.exec(select(StandardAcknowledgement).where(
        StandardAcknowledgement.site_id == site.id, StandardAcknowledgement.standard_id == versions[0].id)).one()
    assert ack.due_at == NOW + timedelta(days=33)


def test_a_changed_standard_without_a_higher_version_refuses_the_whole_folder(session, tmp_path):
    folder = library_copy(tmp_path, "standards")
    publish_standards(session, folder)
    edit(folder / "space-noise.yaml", "max: 50", "max: 48")
    edit(folder / "space-lighting.yaml", "version: 1", "version: 2")
    edit(folder / "space-lighting.yaml", "min: 500", "min: 550")
    with pytest.raises(InvalidFiles) as refused:
        publish_standards(session, folder)
    assert [str(p) for p in refused.value.problems] == [
        "space-noise.yaml:3: 'noise' changed but version 1 is already published (newest 1); raise the version"]


def test_acknowledgements_go_to_active_sites_the_standard_applies_to(session, tmp_path):
    partner = make_franchisee(session)
    flagship = make_site(session, partner, tier="flagship")
    lite = make_site(session, partner, tier="lite")
    onboarding = make_site(session, partner, status=SiteStatus.onboarding)
    publish_standards(session, library_copy(tmp_path, "standards"))
    community = distribution.latest_standards(session=session)["community-activity"]
    asked = set(session.exec(select(StandardAcknowledgement.site_id)
                             .where(StandardAcknowledgement.standard_id == community.id)))
    assert asked == {flagship.id}
    all_sites = set(session.exec(select(StandardAcknowledgement.site_id)))
    assert onboarding.id not in all_sites and lite.id in all_sites


def test_acknowledging_records_who_and_when_and_progress_counts_it(session, tmp_path):
    partner = make_franchisee(session)
    site = make_site(session, partner)
    user = make_user(session, "franchisee_staff", partner)
    publish_standards(session, library_copy(tmp_path, "standards"))
    [pending, *_rest] = distribution.pending_for_sites(session=session, sites=[site])
    distribution.acknowledge(session=session, ack=pending.ack, user=user, now=NOW + timedelta(days=1))
    assert pending.ack.acknowledged_by_id == user.id and pending.ack.acknowledged_at == NOW + timedelta(days=1)
    with pytest.raises(DistributionError):
        distribution.acknowledge(session=session, ack=pending.ack, user=user, now=NOW)
    late = NOW + timedelta(days=61)  # past every due date (the longest is 60 days)
    progress = dict((s.key, p) for s, p in distribution.progress_by_standard(session=session, now=late))
    assert progress[pending.standard.key].done == 1 and progress[pending.standard.key].overdue == 0
    [(row_site, site_progress)] = distribution.progress_by_site(session=session, now=late)
    assert row_site.id == site.id and site_progress.done == 1 and site_progress.overdue == site_progress.total - 1


def test_a_new_version_shows_what_changed_since_the_acknowledged_one(session, tmp_path):
    partner = make_franchisee(session)
    site = make_site(session, partner)
    user = make_user(session, "franchisee_admin", partner)
    folder = library_copy(tmp_path, "standards")
    publish_standards(session, folder)
    noise = next(p for p in distribution.pending_for_sites(session=session, sites=[site]) if p.standard.key == "noise")
    distribution.acknowledge(session=session, ack=noise.ack, user=user, now=NOW)
    edit(folder / "space-noise.yaml", "version: 1", "version: 2")
    edit(folder / "space-noise.yaml", "**50 dB(A)**", "**48 dB(A)**")
    edit(folder / "space-noise.yaml", "max: 50", "max: 48")
    publish_standards(session, folder, NOW + timedelta(days=2))
    again = next(p for p in distribution.pending_for_sites(session=session, sites=[site]) if p.standard.key == "noise")
    assert again.previous.version == 1 and again.standard.version == 2
    assert [str(c) for c in again.rule_changes] == ["~ rules.noise-median.max: 50 → 48"]
    assert any(line.startswith("+") and "48 dB(A)" in line for line in again.text_diff)
    assert any(line.startswith("-") and "50 dB(A)" in line for line in again.text_diff)


def test_publishing_configs_twice_without_changes_creates_nothing(session):
    partner = make_franchisee(session)
    sites = [make_site(session, partner, tier=t) for t in ("flagship", "standard", "lite")]
    first = publish_configs(session)
    session.commit()
    versions, audits = count(session, SiteConfigVersion), count(session, AuditEvent)
    second = publish_configs(session)
    session.commit()
    assert [o.created for o in first] == [True, True, True]
    assert [o.created for o in second] == [False, False, False]
    assert (count(session, SiteConfigVersion), count(session, AuditEvent)) == (versions, audits) == (3, 3)
    desired = distribution.desired_config(session=session, site_id=sites[0].id)
    assert desired.version == 1 and desired.hash == content_hash(desired.content)


def test_only_sites_whose_effective_config_changed_get_a_new_version(session, tmp_path):
    partner = make_franchisee(session)
    east = make_site(session, partner, region="east")
    west = make_site(session, partner, region="west")
    folder = library_copy(tmp_path, "configs")
    publish_configs(session, folder)
    edit(folder / "regions" / "west.yaml", '"98.00"', '"99.00"')
    outcomes = {o.site_code: o for o in publish_configs(session, folder)}
    assert outcomes[west.code].created and outcomes[west.code].version == 2
    assert not outcomes[east.code].created and outcomes[east.code].version == 1
    old, new, changes = distribution.diff_versions(session=session, site=west)
    assert (old, new) == (1, 2)
    assert [str(c) for c in changes] == ['~ plans.day_pass.price: "98.00" → "99.00"']
    assert distribution.desired_config(session=session, site_id=west.id).version == 2


def test_an_invalid_effective_config_refuses_the_publish_and_stores_nothing(session, tmp_path):
    make_site(session, make_franchisee(session), region="west")
    folder = library_copy(tmp_path, "configs")
    layers = site_config.load_folder(folder)
    layers.regions["west"].data["plans"]["day_pass"]["unit"] = "hour"
    with pytest.raises(InvalidFiles) as refused:
        distribution.publish_configs(session=session, layers=layers, actor=SYSTEM, now=NOW)
    assert "plans.day_pass.unit: 'hour' is not one of" in str(refused.value)
    assert count(session, SiteConfigVersion) == 0


def test_rollback_publishes_the_older_content_as_a_new_version(session, tmp_path):
    site = make_site(session, make_franchisee(session), region="west")
    folder = library_copy(tmp_path, "configs")
    publish_configs(session, folder)
    edit(folder / "regions" / "west.yaml", '"98.00"', '"99.00"')
    publish_configs(session, folder)
    outcome = distribution.rollback(session=session, site=site, to_version=1, actor=SYSTEM, now=NOW)
    assert outcome.version == 3 and outcome.created
    v1, v3 = (distribution.get_version(session=session, site=site, version=v) for v in (1, 3))
    assert v3.content == v1.content and v3.content_hash == v1.content_hash and v3.note == "rollback to version 1"
    assert distribution.desired_config(session=session, site_id=site.id).version == 3
    with pytest.raises(DistributionError, match="same content as the config in force"):
        distribution.rollback(session=session, site=site, to_version=1, actor=SYSTEM, now=NOW)
    with pytest.raises(DistributionError, match="no config version 9"):
        distribution.rollback(session=session, site=site, to_version=9, actor=SYSTEM, now=NOW)


def test_a_differing_applied_hash_starts_drift_and_the_desired_one_clears_it(session, tmp_path):
    site = make_site(session, make_franchisee(session), region="west")
    folder = library_copy(tmp_path, "configs")
    publish_configs(session, folder)
    v1 = distribution.desired_config(session=session, site_id=site.id)
    distribution.record_delivery(session=session, site_id=site.id, applied_hash=v1.hash, at=NOW)
    edit(folder / "regions" / "west.yaml", '"98.00"', '"99.00"')
    publish_configs(session, folder)
    later = NOW + timedelta(minutes=5)
    distribution.record_delivery(session=session, site_id=site.id, applied_hash=v1.hash, at=later,
                                 error="config delivery: cannot connect")
    state = distribution.site_state(session=session, site_id=site.id)
    assert state.drift_since == later and state.drifted_keys == ["plans.day_pass.price"]
    assert state.last_delivery_error == "config delivery: cannot connect"
    assert not distribution.is_drifted(state, now=later + timedelta(minutes=59), grace_minutes=60)
    assert distribution.is_drifted(state, now=later + timedelta(minutes=60), grace_minutes=60)
    distribution.record_delivery(session=session, site_id=site.id, applied_hash=v1.hash, at=later + timedelta(hours=2))
    assert state.drift_since == later  # the first time it was seen differing
    v2 = distribution.desired_config(session=session, site_id=site.id)
    distribution.record_delivery(session=session, site_id=site.id, applied_hash=v2.hash, at=later + timedelta(hours=3))
    assert state.drift_since is None and state.drifted_keys == [] and state.last_delivery_error == ""
    assert state.applied_hash == v2.hash and state.applied_at == later + timedelta(hours=3)


def test_a_site_with_nothing_published_has_no_desired_config(session):
    site = make_site(session, make_franchisee(session))
    assert distribution.desired_config(session=session, site_id=site.id) is None
    distribution.record_delivery(session=session, site_id=site.id, applied_hash=None, at=NOW)
    state = session.exec(select(SiteConfigState).where(SiteConfigState.site_id == site.id)).one()
    assert state.drift_since is None and state.last_delivery_at == NOW
