"""CacheManager with real FAISS and the hashing encoder: tiers, scoping, feedback, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from shared_core.cache import CacheManager, LogTemplateReuser
from shared_core.cache.manager import near_key
from shared_core.config import CacheConfig, SemanticCacheConfig
from shared_core.encoders import HashingEncoder
from shared_core.request import Request
from shared_core.storage import dump_arrays, load_arrays

ENC = HashingEncoder(dim=256)
CANDS = ["small", "large"]
Q = "How do I reset my password on the website?"
NEAR = "how do I reset my password on the website"  # similarity ~0.958 with Q, no guard differences
OTHER = "What is the capital of France?"


def cfg(threshold=0.9, **kw) -> CacheConfig:
    # the tiers' mechanics under a fixed cosine; the learned policy has its own tests below
    sem = dict(policy="static", initial_threshold=threshold, floor=0.8, min_evidence=30)
    sem.update(kw.pop("semantic", {}))
    return CacheConfig(semantic=SemanticCacheConfig(**sem), **kw)


def make(threshold=0.9, reusers=None, **kw) -> CacheManager:
    return CacheManager(cfg(threshold, **kw), ENC.dim, reusers=reusers)


class Call:
    """One request and the keys the engine would compute for it."""

    def __init__(self, text, tenant="default", task="default", params=None, history=(), **kw):
        msgs = [{"role": "system", "content": "You are helpful."}, *history, {"role": "user", "content": text}]
        self.req = Request(messages=msgs, tenant=tenant, task=task, params=params or {}, **kw)
        self.scope = self.req.scope_key(CANDS)
        self.key = self.req.exact_key(self.scope)
        self.vec = ENC.encode_one(self.req.query)

    @property
    def near(self):
        return near_key(self.req, self.scope)

    def lookup(self, cache):
        return cache.lookup(self.req, self.scope, self.key, self.vec)

    def store(self, cache, answer="answer", model="small"):
        return cache.store(self.req, self.scope, self.key, self.vec, answer, model)


def confirmed(cache, call, answer="answer"):
    eid = call.store(cache, answer)
    cache.judge_entry(eid, call.req, correct=True)
    return eid


def learned(n_right=0, **sem):
    """A cache under the learned policy, with n_right pieces of evidence of right hits
    at similarities 0.85-1.0 in Q's scope."""
    cache = make(semantic={"policy": "learned", "target_error_rate": 0.05, **sem})
    for s in np.linspace(0.85, 1.0, n_right):
        cache.policy.observe(Call(Q).scope, None, float(s), True)
    return cache


# -- exact tier ---------------------------------------------------------------------------

def test_exact_hit_within_scope_only():
    cache = make()
    eid = Call(Q).store(cache, "Use the reset link.", "large")
    hit = Call("  How do I   reset my password on the website? ").lookup(cache).hit
    assert hit is not None and hit.tier == "exact" and hit.answer == "Use the reset link."
    assert hit.entry_id == eid and hit.model == "large" and hit.similarity == 1.0
    assert Call(Q, tenant="acme").lookup(cache).hit is None  # another tenant misses
    assert Call(Q, task="codegen").lookup(cache).hit is None
    assert cache.entries[eid].hits == 1


def test_exact_answers_unjudged_only_when_configured():
    cache = make(serve_unconfirmed=False)
    eid = Call(Q).store(cache)
    assert Call(Q).lookup(cache).hit is None
    cache.judge_entry(eid, Call(Q).req, correct=True)
    assert Call(Q).lookup(cache).hit.tier == "exact"


def test_exact_tier_can_be_switched_off():
    cache = make(exact=False)
    Call(Q).store(cache)
    assert Call(Q).lookup(cache).hit is None


def test_storing_again_keeps_the_first_answer():
    cache = make()
    first = Call(Q).store(cache, "first")
    assert Call(Q).store(cache, "second") == first
    assert Call(Q).lookup(cache).hit.answer == "first" and len(cache) == 1


# -- when the cache is skipped --------------------------------------------------------------

def test_temperature_above_zero_skips():
    cache = make()
    hot = Call(Q, params={"temperature": 0.7})
    assert hot.store(cache) is None and len(cache) == 0
    look = hot.lookup(cache)
    assert look.hit is None and look.skipped == "temperature > 0"


def test_temperature_allowed_by_config_or_request():
    for cache, call in [(make(allow_sampled=True), Call(Q, params={"temperature": 0.7})),
                        (make(), Call(Q, params={"temperature": 0.7}, allow_cache=True))]:
        assert call.store(cache) is not None
        assert call.lookup(cache).hit.tier == "exact"


def test_request_or_config_can_disable():
    cache = make()
    Call(Q).store(cache)
    assert Call(Q, allow_cache=False).lookup(cache).skipped == "request disallows the cache"
    off = make(enabled=False)
    assert Call(Q).store(off) is None and Call(Q).lookup(off).skipped == "cache disabled"


# -- semantic tier --------------------------------------------------------------------------

def test_semantic_needs_confirmation():
    cache = make()
    eid = Call(Q).store(cache, "Use the reset link.")
    assert Call(NEAR).lookup(cache).hit is None  # unconfirmed: exact repeats only
    assert len(cache.semantic.scope(Call(Q).near)) == 0
    cache.judge_entry(eid, Call(Q).req, correct=True)
    look = Call(NEAR).lookup(cache)
    assert look.hit is not None and look.hit.tier == "semantic" and look.hit.entry_id == eid
    assert 0.9 <= look.hit.similarity < 1.0 and look.hit.detail["threshold"] == 0.9
    assert look.nearest.entry_id == eid and look.nearest.veto is None


def test_semantic_hit_stays_in_scope():
    cache = make()
    confirmed(cache, Call(Q))
    assert Call(NEAR, tenant="acme").lookup(cache).hit is None
    assert Call(NEAR, candidates=None).lookup(cache).hit is not None


def test_semantic_needs_the_threshold():
    cache = make(threshold=0.99)
    eid = confirmed(cache, Call(Q))
    look = Call(NEAR).lookup(cache)
    assert look.hit is None
    assert look.nearest.entry_id == eid and 0.9 < look.nearest.similarity < 0.99  # seen, not served
    assert Call(OTHER).lookup(cache).hit is None


def test_learned_policy_cold_serves_no_near_duplicate():
    cache = learned(0)
    eid = confirmed(cache, Call(Q))
    look = Call(NEAR).lookup(cache)
    assert look.hit is None and look.nearest.entry_id == eid  # seen, not vouched for
    assert Call(Q).lookup(cache).hit.tier == "exact"


def test_learned_threshold_follows_evidence():
    cache = learned(100)
    eid = confirmed(cache, Call(Q))
    assert cache.policy.threshold(Call(Q).scope) < 0.9
    hit = Call(NEAR).lookup(cache).hit
    assert hit.entry_id == eid and hit.detail["policy"] == "learned"
    assert cache.policy.threshold(Call(Q, tenant="acme").scope) > 1.0  # evidence stays in its scope


def test_none_policy_never_serves_near_duplicates():
    cache = make(semantic={"policy": "none"})
    confirmed(cache, Call(Q))
    assert Call(NEAR).lookup(cache).hit is None and Call(Q).lookup(cache).hit.tier == "exact"


@pytest.mark.parametrize("cached, query, reason", [
    ("open port 80 on the firewall", "open port 8080 on the firewall", "numbers differ"),
    ("what does the function parseConfig return", "what does the function parseConfigs return",
     "identifiers differ"),
    ("is it safe to delete this file", "is it not safe to delete this file", "negation differs"),
])
def test_guards_veto_near_duplicates(cached, query, reason):
    cache = make(threshold=0.85)
    confirmed(cache, Call(cached))
    look = Call(query).lookup(cache)
    assert look.hit is None
    assert look.nearest is not None and look.nearest.veto == reason and look.nearest.similarity >= 0.85


def test_near_duplicates_need_the_same_context_key():
    cache = make()
    eid = confirmed(cache, Call(Q, context_key="docs-v1"))
    assert Call(NEAR, context_key="docs-v1").lookup(cache).hit.entry_id == eid
    look = Call(NEAR, context_key="docs-v2").lookup(cache)
    assert look.hit is None and look.nearest.entry_id is None  # another context: another index
    assert Call(NEAR).lookup(cache).hit is None


def test_follow_ups_use_the_exact_tier_only():
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    cache = make()
    confirmed(cache, Call(Q))
    assert Call(NEAR, history=history).lookup(cache).hit is None
    fid = confirmed(cache, Call(Q, history=history))
    assert Call(Q, history=history).lookup(cache).hit.entry_id == fid
    assert all(fid not in idx for idx in cache.semantic.scopes.values())  # never indexed for near-duplicates


PIN1 = [{"role": "user", "content": "My PIN is 1111"}]
PIN2 = [{"role": "user", "content": "My PIN is 2222"}]


def test_conversations_that_differ_in_an_earlier_user_turn_never_share():
    cache = learned(300)
    eid = confirmed(cache, Call("What did I say?", history=PIN1), "You said: My PIN is 1111")
    assert Call("What did I say ?", history=PIN1).lookup(cache).hit.entry_id == eid  # same turns: may share
    for text in ("What did I say?", "What did I say ?"):
        look = Call(text, history=PIN2).lookup(cache)
        assert look.hit is None and look.nearest.entry_id is None


LONG = "\n".join(f"Paragraph {w}: the contract says the tenant pays the rent on the first day of the month."
                 for w in "abcdefghijklmnopqrstuvwxyz")


def test_long_prompts_that_differ_only_in_the_middle_never_share():
    cache = learned(300)
    middle = len(LONG) // 2
    changed = LONG[:middle] + LONG[middle:].replace("tenant", "landlord", 1)
    eid = confirmed(cache, Call(LONG + "\nWho pays the rent?"), "the tenant")
    assert Call(LONG + "\nWho is it that pays the rent?").lookup(cache).hit.entry_id == eid  # same body
    look = Call(changed + "\nWho pays the rent?").lookup(cache)
    assert look.hit is None and look.nearest.entry_id is None
    assert Call(changed + "\nWho pays the rent?").near != Call(LONG + "\nWho pays the rent?").near


def test_wrong_semantic_hit_is_evidence_on_the_entry_and_its_scope():
    cache = learned(100)
    eid = confirmed(cache, Call(Q))
    near = Call(NEAR)
    hit = near.lookup(cache).hit
    cache.judge_hit(hit, near.req, near.scope, correct=False)
    entry = cache.entries[eid]
    assert entry.evidence == [(hit.similarity, False)] and entry.wrong_at(hit.similarity)
    assert list(cache.policy.calibrator(near.scope).pairs)[-1] == (hit.similarity, False, 1.0)  # no rival
    assert near.lookup(cache).hit is None  # not at that similarity again
    assert Call(Q).lookup(cache).hit.tier == "exact"  # its own query is still answered
    assert entry.confirmed


def test_correct_semantic_hit_is_evidence():
    cache = learned(100)
    eid = confirmed(cache, Call(Q))
    near = Call(NEAR)
    hit = near.lookup(cache).hit
    cache.judge_hit(hit, near.req, near.scope, correct=True)
    assert list(cache.policy.calibrator(near.scope).pairs)[-1] == (hit.similarity, True, 1.0)
    assert cache.entries[eid].evidence == [(hit.similarity, True)]
    assert near.lookup(cache).hit is not None


# -- bad feedback evicts ---------------------------------------------------------------------

def test_bad_feedback_evicts_from_exact_and_semantic():
    cache = make()
    eid = confirmed(cache, Call(Q))
    assert Call(NEAR).lookup(cache).hit is not None
    cache.judge_entry(eid, Call(Q).req, correct=False)  # bad 1 >= good 1
    assert eid not in cache.entries and len(cache) == 0
    assert Call(Q).lookup(cache).hit is None
    look = Call(NEAR).lookup(cache)
    assert look.hit is None and look.nearest.entry_id is None
    assert len(cache.semantic.scope(Call(Q).near)) == 0


def test_bad_feedback_on_exact_hit_evicts():
    cache = make()
    eid = Call(Q).store(cache, "wrong")
    call = Call(Q)
    hit = call.lookup(cache).hit
    cache.judge_hit(hit, call.req, call.scope, correct=False)
    assert eid not in cache.entries and call.lookup(cache).hit is None
    new = call.store(cache, "right")  # a fresh answer can take its place
    assert new != eid and call.lookup(cache).hit.answer == "right"


def test_unconfirmed_rejected_entry_never_reaches_semantic():
    cache = make()
    eid = Call(Q).store(cache)
    cache.judge_entry(eid, Call(Q).req, correct=False)
    cache.judge_entry(eid, Call(Q).req, correct=True)  # already gone: ignored
    assert len(cache) == 0 and cache._pending_vectors == {}
    assert Call(NEAR).lookup(cache).hit is None


def test_max_entries_evicts_oldest():
    cache = make(max_entries=3)
    calls = [Call(f"question number {w}") for w in ("one", "two", "three", "four")]
    ids = [confirmed(cache, c) for c in calls]
    assert len(cache) == 3 and ids[0] not in cache.entries
    assert calls[0].lookup(cache).hit is None and calls[3].lookup(cache).hit.entry_id == ids[3]
    assert ids[0] not in [eid for eid, _ in cache.semantic.nearest(calls[0].near, calls[0].vec)]


# -- shadow calibration ------------------------------------------------------------------------

def test_shadow_records_whether_nearest_would_have_been_right():
    cache = learned(0)
    confirmed(cache, Call(Q), "Use the reset link.")
    near = Call(NEAR)
    look = near.lookup(cache)
    assert look.hit is None and look.nearest is not None
    cache.shadow(near.req, near.scope, look.nearest, "use the   RESET link.")
    cache.shadow(near.req, near.scope, look.nearest, "Call support.")
    pairs = list(cache.policy.calibrator(near.scope).pairs)
    assert pairs == [(look.nearest.similarity, True, 1.0), (look.nearest.similarity, False, 1.0)]


def test_shadow_counts_queries_nothing_could_serve():
    cache = learned(0)
    confirmed(cache, Call(Q))
    look = Call(OTHER, tenant="acme").lookup(cache)  # another scope: nothing near
    assert look.nearest.entry_id is None
    cache.shadow(Call(OTHER).req, Call(OTHER).scope, look.nearest, "Paris")
    assert list(cache.policy.calibrator(Call(OTHER).scope).pairs) == [(-1.0, True, 1.0)]


def test_margin_is_the_gap_to_the_next_entry_with_another_answer():
    cache = make()
    confirmed(cache, Call(Q), "Use the reset link.")
    confirmed(cache, Call("How do I reset my password on the app?"), "Open the app settings.")
    confirmed(cache, Call("How do I reset my password on the website please?"), "use the reset   LINK.")
    look = Call(NEAR).lookup(cache)
    sims = dict(cache.semantic.nearest(Call(NEAR).near, Call(NEAR).vec))
    app = cache.exact[Call("How do I reset my password on the app?").key].id
    assert look.hit.detail["margin"] == pytest.approx(look.hit.similarity - sims[app])  # same answers are no rival


# -- verified reuse through the manager ------------------------------------------------------------

LOG1 = "PacketResponder 1 for block blk_-1608999687919862906 terminating"
LOG2 = "PacketResponder 2 for block blk_-5009020203888190378 terminating"
TEMPLATE = "PacketResponder <*> for block <*> terminating"


def test_reuse_tier_serves_and_forgets_wrong_templates():
    cache = make(threshold=0.999, reusers=[LogTemplateReuser()])
    first = Call(LOG1, task="logparsing")
    eid = first.store(cache, f"`{TEMPLATE}`", "large")
    second = Call(LOG2, task="logparsing")
    assert second.lookup(cache).hit is None  # not confirmed yet
    cache.judge_entry(eid, first.req, correct=True)
    hit = second.lookup(cache).hit
    assert hit.tier == "reuse" and hit.answer == TEMPLATE and hit.model == "large" and hit.entry_id == eid
    assert cache.entries[eid].hits == 1
    cache.judge_hit(hit, second.req, second.scope, correct=False)
    assert second.lookup(cache).hit is None
    assert first.lookup(cache).hit.tier == "exact"  # the entry itself is untouched


# -- persistence -------------------------------------------------------------------------------

def test_snapshot_restore_roundtrip_keeps_hits_working():
    cache = learned(100, floor=0.9)
    cache.reusers = [LogTemplateReuser()]
    sem_id = confirmed(cache, Call(Q), "Use the reset link.")
    pending_id = Call(OTHER).store(cache, "Paris")  # unconfirmed: exact only, vector pending
    log_id = confirmed(cache, Call(LOG1, task="logparsing"), TEMPLATE)
    wrong = Call("open port 80 on the firewall")
    confirmed(cache, wrong)

    meta, arrays = cache.snapshot()
    meta = json.loads(json.dumps(meta))  # what a store writes: JSON and npz, no pickle
    arrays = load_arrays(dump_arrays(arrays))

    again = learned(0, floor=0.9)
    again.reusers = [LogTemplateReuser()]
    again.restore(meta, arrays)
    assert len(again) == len(cache) == 4
    assert Call(Q).lookup(again).hit.entry_id == sem_id
    near = Call(NEAR).lookup(again).hit
    assert near.tier == "semantic" and near.entry_id == sem_id
    assert Call(OTHER).lookup(again).hit.answer == "Paris"
    reuse = Call(LOG2, task="logparsing").lookup(again).hit
    assert reuse.tier == "reuse" and reuse.entry_id == log_id
    assert list(again.policy.calibrator(Call(Q).scope).pairs) == list(cache.policy.calibrator(Call(Q).scope).pairs)
    # a pending entry confirmed after the restore joins the semantic index
    again.judge_entry(pending_id, Call(OTHER).req, correct=True)
    assert Call("what is the capital of France").lookup(again).hit.entry_id == pending_id
    # ids continue after the restored ones
    assert Call("a brand new question").store(again) > max(cache.entries)


def test_snapshot_leaves_out_evicted_entries():
    cache = make()
    keep = confirmed(cache, Call(Q))
    gone = confirmed(cache, Call(OTHER))
    cache.judge_entry(gone, Call(OTHER).req, correct=False)
    meta, arrays = cache.snapshot()
    assert [e["id"] for e in meta["entries"]] == [keep]
    assert meta["scopes"][Call(Q).near]["ids"] == [keep]
    assert arrays[f"scope_{Call(Q).near}"].shape == (1, ENC.dim)
    again = make()
    again.restore(meta, arrays)
    assert Call("what is the capital of France").lookup(again).hit is None
    assert Call(NEAR).lookup(again).hit.entry_id == keep


def test_snapshot_from_before_entry_evidence_keeps_its_wrong_similarity():
    cache = make()
    eid = confirmed(cache, Call(Q))
    meta, arrays = cache.snapshot()
    meta["entries"][0].pop("evidence")
    meta["entries"][0]["min_similarity"] = 0.97
    again = make()
    again.restore(meta, arrays)
    assert again.entries[eid].wrong_at(0.96) and not again.entries[eid].wrong_at(0.98)
