"""QA votes: latest vote per voter counts, no blocks, history kept."""

from __future__ import annotations

from tests.support import Api, FeatureBuilder


def setup_feature(api: Api) -> None:
    api.apply(FeatureBuilder("search").criterion("e2e", ring="internal", required_yes=2))


def criterion(api: Api) -> dict:
    return api.get("/api/v1/features/search").json["criteria"][0]


def test_a_vote_is_recorded_as_the_token_that_cast_it(api: Api) -> None:
    setup_feature(api)
    body = api.as_("qa").vote("search", "e2e", "yes", comment="green on CI")
    assert (body["voter"], body["vote"], body["comment"], body["revision"]) == ("alice", "yes", "green on CI", 1)


def test_required_yes_votes_and_no_current_no_make_a_criterion_pass(api: Api) -> None:
    setup_feature(api)
    bob = api.token("bob", "qa")
    carol = api.token("carol", "qa")
    api.as_("qa").vote("search", "e2e", "yes")
    assert criterion(api)["detail"] == "1 of 2 yes votes"
    bob.vote("search", "e2e", "no")
    assert criterion(api)["detail"] == "1 of 2 yes votes; no from bob"
    carol.vote("search", "e2e", "yes")
    assert (criterion(api)["passed"], criterion(api)["detail"]) == (False, "2 of 2 yes votes; no from bob")
    bob.vote("search", "e2e", "yes")
    current = criterion(api)
    assert current["passed"] is True
    assert sorted(v["voter"] for v in current["votes"]) == ["alice", "bob", "carol"]


def test_the_latest_vote_of_a_voter_is_the_one_that_counts(api: Api) -> None:
    setup_feature(api)
    qa = api.as_("qa")
    for v in ("yes", "no", "yes", "no"):
        qa.vote("search", "e2e", v)
    assert criterion(api)["no"] == ["alice"]
    history = api.get("/api/v1/features/search/criteria/e2e/votes").json
    assert [v["vote"] for v in history] == ["no", "yes", "no", "yes"]
    assert [v["vote"] for v in api.get("/api/v1/features/search/criteria/e2e/votes?limit=2").json] == ["no", "yes"]


def test_every_no_voter_is_named(api: Api) -> None:
    setup_feature(api)
    api.as_("qa").vote("search", "e2e", "no")
    api.token("bob", "qa").vote("search", "e2e", "no")
    assert criterion(api)["detail"] == "0 of 2 yes votes; no from alice, bob"
