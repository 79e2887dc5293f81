"""The fake GitHub must behave like GitHub where trender's client depends on it; these tests pin that."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from trender_assets_tests.fake_github import FakeGitHub, FakeRepo

AUTH = {"Authorization": "Bearer t0ken"}


def repo(id: int, name: str, language: str | None = "Python", stars: int = 10, created: str = "2026-08-01",
         pushed: str = "2026-10-01", **kwargs) -> FakeRepo:
    return FakeRepo(id=id, full_name=f"own{id}/{name}", language=language, stars=stars,
                    created_at=f"{created}T12:00:00Z", pushed_at=f"{pushed}T12:00:00Z", **kwargs)


@pytest.fixture
def gh():
    with FakeGitHub() as fake:
        yield fake


@pytest.fixture
def client(gh):
    with httpx.Client(base_url=gh.url, timeout=5) as c:
        yield c


def names(response: httpx.Response) -> list[str]:
    return [item["full_name"].split("/")[1] for item in response.json()["items"]]


# -- /search/repositories -------------------------------------------------------------------------


def test_search_filters_by_language_and_dates_and_sorts_by_stars(gh, client):
    gh.add_repo(repo(1, "a", stars=5))
    gh.add_repo(repo(2, "b", stars=50))
    gh.add_repo(repo(3, "c", stars=50))  # tie on stars -> id ascending
    gh.add_repo(repo(4, "ts", language="TypeScript", stars=99))
    gh.add_repo(repo(5, "stale", stars=500, pushed="2026-08-31"))
    gh.add_repo(repo(6, "old", stars=500, created="2026-03-31"))
    gh.add_repo(repo(7, "nolang", language=None, stars=500))
    params = {"q": "language:python pushed:>=2026-09-01 created:>=2026-04-01", "sort": "stars", "order": "desc"}

    r = client.get("/search/repositories", params=params)
    assert r.status_code == 200
    assert names(r) == ["b", "c", "a"]
    assert r.json()["total_count"] == 3 and r.json()["incomplete_results"] is False
    assert names(client.get("/search/repositories", params={**params, "order": "asc"})) == ["a", "c", "b"]


def test_search_ranges_split_queries(gh, client):
    for i, (created, stars) in enumerate([("2026-01-01", 1), ("2026-02-15", 20), ("2026-03-01", 300)], start=1):
        gh.add_repo(repo(i, f"r{i}", created=created, stars=stars))
    by_created = client.get("/search/repositories", params={"q": "created:2026-02-01..2026-03-01", "sort": "stars"})
    assert names(by_created) == ["r3", "r2"]  # inclusive on both ends
    by_stars = client.get("/search/repositories", params={"q": "stars:1..20", "sort": "stars"})
    assert names(by_stars) == ["r2", "r1"]


def test_unknown_qualifier_is_a_422_validation_failure(client):
    r = client.get("/search/repositories", params={"q": "language:Go flavour:spicy"})
    assert r.status_code == 422
    assert r.json()["message"] == "Validation Failed"
    assert r.json()["errors"][0]["field"] == "q"


def test_search_item_has_the_repo_search_result_item_shape(gh, client):
    gh.add_repo(repo(1, "x", topics=["cli"], license_spdx=None, description="d"))
    item = client.get("/search/repositories", params={"q": "language:Python"}).json()["items"][0]
    for key in ("id", "node_id", "name", "full_name", "owner", "private", "html_url", "description", "fork",
                "url", "created_at", "updated_at", "pushed_at", "homepage", "size", "stargazers_count",
                "watchers_count", "language", "forks_count", "open_issues_count", "forks", "open_issues",
                "watchers", "default_branch", "score", "topics", "archived", "disabled", "visibility",
                "license", "has_issues", "mirror_url", "stargazers_url", "clone_url"):
        assert key in item, key
    assert item["owner"]["login"] == "own1" and item["owner"]["type"] == "User"
    assert item["html_url"] == "https://github.com/own1/x"
    assert item["url"] == f"{gh.url}/repos/own1/x"
    assert item["license"] is None and item["topics"] == ["cli"]
    assert item["updated_at"] == item["pushed_at"]  # updated_at defaults to pushed_at


def test_search_paging_and_link_header(gh, client):
    for i in range(1, 6):
        gh.add_repo(repo(i, f"r{i}", stars=100 - i))
    first = client.get("/search/repositories", params={"q": "language:Python", "sort": "stars", "per_page": 2})
    assert names(first) == ["r1", "r2"] and first.json()["total_count"] == 5
    assert first.links["next"]["url"].endswith("page=2") and first.links["last"]["url"].endswith("page=3")
    assert first.headers["link"].startswith(f"<{gh.url}/search/repositories?")
    second = client.get(first.links["next"]["url"])
    assert names(second) == ["r3", "r4"]
    last = client.get(first.links["last"]["url"])
    assert names(last) == ["r5"] and "next" not in last.links and "prev" in last.links


def test_per_page_is_capped_at_100_and_results_at_1000(gh, client):
    for i in range(1, 151):
        gh.add_repo(repo(i, f"r{i}"))
    q = {"q": "language:Python"}
    assert len(client.get("/search/repositories", params={**q, "per_page": 500}).json()["items"]) == 100
    assert client.get("/search/repositories", params={**q, "per_page": 100, "page": 10}).status_code == 200
    r = client.get("/search/repositories", params={**q, "per_page": 100, "page": 11})
    assert r.status_code == 422
    assert r.json() == {"message": "Only the first 1000 search results are available",
                        "documentation_url": "https://docs.github.com/v3/search/", "status": "422"}
    # a page that starts before result 1000 is fine for repositories...
    assert client.get("/search/repositories", params={**q, "per_page": 30, "page": 34}).status_code == 200
    # ...but code search refuses a page that would reach past it
    r = client.get("/search/code", params={"q": "filename:render.yaml path:/", "per_page": 30, "page": 34},
                   headers=AUTH)
    assert r.status_code == 422


def test_raw_items_come_after_real_items_whatever_the_sort(gh, client):
    gh.add_repo(repo(1, "real", stars=1))
    gh.add_raw_search_item("python", {"id": "not-an-int", "full_name": None})
    gh.add_raw_search_item("Go", {"id": 99})
    for order in ("desc", "asc"):
        items = client.get("/search/repositories",
                           params={"q": "language:PYTHON", "sort": "stars", "order": order}).json()["items"]
        assert [i["id"] for i in items] == [1, "not-an-int"]


# -- /search/code --------------------------------------------------------------------------------


def test_code_search_items_carry_a_minimal_repository_and_decoys(gh, client):
    gh.add_repo(repo(3, "render", render_yaml=True))
    gh.add_repo(repo(1, "plain"))
    gh.add_code_search_decoy(repo(2, "decoy"), "examples/render.yaml")
    r = client.get("/search/code", params={"q": "filename:render.yaml path:/", "per_page": 100}, headers=AUTH)
    assert r.status_code == 200
    assert r.headers["x-ratelimit-resource"] == "code_search"
    items = r.json()["items"]
    assert [(i["repository"]["id"], i["path"]) for i in items] == [(2, "examples/render.yaml"), (3, "render.yaml")]
    item = items[1]
    assert item["name"] == "render.yaml" and len(item["sha"]) == 40
    assert {"url", "git_url", "html_url", "score"} <= item.keys()
    repository = item["repository"]
    assert {"id", "node_id", "name", "full_name", "owner", "private", "html_url", "description", "fork",
            "url"} <= repository.keys()
    for absent in ("stargazers_count", "created_at", "pushed_at", "updated_at", "language", "topics"):
        assert absent not in repository


def test_code_search_requires_authentication_even_without_a_configured_token(gh, client):
    gh.add_repo(repo(1, "render", render_yaml=True))
    r = client.get("/search/code", params={"q": "filename:render.yaml path:/"})
    assert r.status_code == 401
    assert r.json()["message"] == "Requires authentication"
    assert client.get("/search/repositories", params={"q": "language:Python"}).status_code == 200


# -- /repos ----------------------------------------------------------------------------------------


def test_get_repository_is_a_full_repository_or_404(gh, client):
    gh.add_repo(repo(1, "x", stars=120))
    body = client.get("/repos/OWN1/X").json()  # names are case-insensitive, as on GitHub
    assert body["full_name"] == "own1/x" and body["stargazers_count"] == 120
    assert "score" not in body
    assert {"subscribers_count", "network_count", "has_discussions"} <= body.keys()
    missing = client.get("/repos/nobody/nothing")
    assert missing.status_code == 404 and missing.json()["message"] == "Not Found"


def test_readme_is_wrapped_base64_with_a_git_blob_sha(gh, client):
    text = "# Título\n\n" + "Lorem ipsum dolor sit amet. " * 20
    gh.add_repo(repo(1, "x", readme=text, readme_name="README.rst"))
    r = client.get("/repos/own1/x/readme")
    body = r.json()
    data = text.encode("utf-8")
    assert body["type"] == "file" and body["encoding"] == "base64"
    assert body["name"] == body["path"] == "README.rst" and body["size"] == len(data)
    lines = body["content"].split("\n")
    assert body["content"].endswith("\n") and lines[-1] == ""
    assert all(len(line) == 60 for line in lines[:-2]) and 0 < len(lines[-2]) <= 60
    assert base64.b64decode(body["content"], validate=False) == data
    assert body["sha"] == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert r.headers["etag"] == f'"{body["sha"]}"'
    assert {"url", "git_url", "html_url", "download_url", "_links"} <= body.keys()


def test_readme_sha_matches_a_real_github_recording(gh, client):
    # octokit/fixtures get-content: "# hello-world" was served with ETag "93a078d1..." (its blob sha)
    gh.add_repo(repo(1, "hello-world", readme="# hello-world"))
    assert client.get("/repos/own1/hello-world/readme").json()["sha"] == "93a078d1c3f76aa1ca11def8f882a06df1d4a01b"


def test_missing_readme_is_404(gh, client):
    gh.add_repo(repo(1, "x", readme=None))
    r = client.get("/repos/own1/x/readme")
    assert r.status_code == 404 and r.json()["message"] == "Not Found"
    assert client.get("/repos/nobody/nothing/readme").status_code == 404


def test_readme_raw_media_type(gh, client):
    gh.add_repo(repo(1, "x", readme="# héllo\n"))
    for accept in ("application/vnd.github.raw+json", "application/vnd.github.raw"):
        r = client.get("/repos/own1/x/readme", headers={"Accept": accept})
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/vnd.github.raw; charset=utf-8"
        assert r.content == "# héllo\n".encode()


def test_conditional_readme_request_gets_a_free_304(gh, client):
    gh.add_repo(repo(1, "x"))
    first = client.get("/repos/own1/x/readme")
    again = client.get("/repos/own1/x/readme", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["x-ratelimit-used"] == first.headers["x-ratelimit-used"]


# -- auth, faults, rate limits -----------------------------------------------------------------------


def test_token_is_enforced_when_configured():
    with FakeGitHub(token="s3cret") as gh, httpx.Client(base_url=gh.url) as c:
        gh.add_repo(repo(1, "x"))
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = c.get("/repos/own1/x", headers=headers)
            assert r.status_code == 401
            assert r.json() == {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                "status": "401"}
        assert c.get("/repos/own1/x", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/repos/own1/x", headers={"Authorization": "token s3cret"}).status_code == 200
        assert [r.status for r in gh.requests] == [401, 401, 200, 200]


def test_fail_next_answers_the_next_matching_requests_then_recovers(gh, client):
    gh.add_repo(repo(1, "x"))
    gh.fail_next("/search/", 403, count=2, headers={"Retry-After": "7", "x-ratelimit-remaining": "0"},
                 body={"message": "You have exceeded a secondary rate limit."})
    gh.fail_next("/repos/own1/x", 502)
    statuses = []
    for _ in range(3):
        r = client.get("/search/repositories", params={"q": "language:Python"})
        statuses.append(r.status_code)
    assert statuses == [403, 403, 200]
    assert r.json()["total_count"] == 1
    assert client.get("/repos/own1/x").status_code == 502
    assert client.get("/repos/own1/x").status_code == 200
    assert gh.count("/search/") == 3 and gh.count("/repos/") == 2 and gh.count() == 5
    assert [r.status for r in gh.requests] == [403, 403, 200, 502, 200]
    assert gh.requests[0].query["q"] == "language:Python"

    gh.fail_next("/repos/", 500, count=5)
    gh.reset_faults()
    assert client.get("/repos/own1/x").status_code == 200


def test_fault_headers_override_the_rate_limit_headers(gh, client):
    gh.fail_next("/search/", 403, headers={"Retry-After": "7", "x-ratelimit-remaining": "0"})
    r = client.get("/search/repositories", params={"q": "language:Go"})
    assert r.status_code == 403 and r.headers["retry-after"] == "7"
    assert r.headers["x-ratelimit-remaining"] == "0" and r.json()["status"] == "403"


def test_fault_can_drop_the_connection_or_delay_the_answer(gh, client):
    gh.fail_next("/rate_limit", 0)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/rate_limit")
    gh.fail_next("/rate_limit", 200, delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/rate_limit", timeout=0.1)
    assert client.get("/rate_limit").status_code == 200


def test_rate_limit_headers_per_resource(gh, client):
    gh.add_repo(repo(1, "x", render_yaml=True))
    core = client.get("/repos/own1/x", headers=AUTH).headers
    assert (core["x-ratelimit-resource"], core["x-ratelimit-limit"], core["x-ratelimit-used"],
            core["x-ratelimit-remaining"]) == ("core", "5000", "1", "4999")
    core2 = client.get("/repos/own1/x").headers  # without Authorization: the unauthenticated limit
    assert (core2["x-ratelimit-limit"], core2["x-ratelimit-remaining"]) == ("60", "58")
    search = client.get("/search/repositories", params={"q": "language:Python"}, headers=AUTH).headers
    assert (search["x-ratelimit-resource"], search["x-ratelimit-limit"], search["x-ratelimit-remaining"]) == \
        ("search", "30", "29")
    assert search["cache-control"] == "no-cache" and "etag" not in search
    code = client.get("/search/code", params={"q": "filename:render.yaml"}, headers=AUTH).headers
    assert (code["x-ratelimit-resource"], code["x-ratelimit-limit"], code["x-ratelimit-remaining"]) == \
        ("code_search", "9", "8")
    assert int(search["x-ratelimit-reset"]) < int(core["x-ratelimit-reset"])
    for h in (core, search, code):
        assert h["x-github-api-version-selected"] == "2022-11-28"
        assert h["content-type"] == "application/json; charset=utf-8"

    status = client.get("/rate_limit", headers=AUTH)
    assert "x-ratelimit-limit" not in status.headers
    body = status.json()
    assert body["resources"]["core"]["used"] == 2 and body["resources"]["search"]["remaining"] == 29
    assert body["resources"]["code_search"] == {"limit": 9, "remaining": 8, "used": 1,
                                                "reset": int(code["x-ratelimit-reset"])}
    assert body["rate"] == body["resources"]["core"]
    assert client.get("/rate_limit", headers=AUTH).json()["resources"]["core"]["used"] == 2  # free
    assert gh.count("/rate_limit") == 2


def test_only_get_is_served(gh, client):
    gh.add_repo(repo(1, "x"))
    r = client.post("/repos/own1/x", json={"name": "y"})
    assert r.status_code == 404 and r.json()["message"] == "Not Found"
    assert client.get("/nothing/here").status_code == 404
    assert client.get("/repos/own1/x").status_code == 200  # the keep-alive connection is still usable


def test_stop_closes_the_server():
    gh = FakeGitHub().start()
    url = gh.url
    with httpx.Client(base_url=url, timeout=2) as c:
        assert c.get("/rate_limit").status_code == 200
        gh.stop()
        with pytest.raises(httpx.TransportError):
            c.get("/rate_limit")


# -- per-item answers, hostile payloads, enforced limits ---------------------------------------------


def test_readme_over_1mb_is_refused_as_json_and_served_raw(gh, client):
    gh.blob_json_limit = 10  # "1 MB", scaled down
    gh.add_repo(repo(1, "big", readme="# a README longer than ten bytes"))
    refused = client.get("/repos/own1/big/readme")
    assert refused.status_code == 403
    assert refused.json()["errors"] == [{"resource": "Blob", "field": "data", "code": "too_large"}]
    assert "x-ratelimit-remaining" in refused.headers and refused.headers["x-ratelimit-remaining"] != "0"
    raw = client.get("/repos/own1/big/readme", headers={"Accept": "application/vnd.github.raw+json"})
    assert raw.status_code == 200 and raw.text == "# a README longer than ten bytes"
    assert raw.headers["etag"].strip('"') == hashlib.sha1(b"blob 32\0# a README longer than ten bytes").hexdigest()


def test_empty_blocked_and_gone_repositories_answer_like_github(gh, client):
    gh.add_repo(repo(1, "empty", empty=True))
    gh.add_repo(repo(2, "blocked", blocked=True))
    gh.add_repo(repo(3, "gone", gone=True))
    empty = client.get("/repos/own1/empty/readme")
    assert empty.status_code == 409 and empty.json()["message"] == "This repository is empty."
    blocked = client.get("/repos/own2/blocked/readme")
    assert blocked.status_code == 451 and blocked.json()["block"]["reason"] == "dmca"
    assert client.get("/repos/own2/blocked").status_code == 451
    assert client.get("/repos/own3/gone").status_code == 404
    listed = {i["id"] for i in client.get("/search/repositories", params={"q": "language:Python"}).json()["items"]}
    assert listed == {1, 2, 3}  # the search index still lists them


def test_a_lone_surrogate_is_sent_as_its_json_escape(gh, client):
    gh.add_repo(repo(1, "x", description="a \ud800 b"))
    r = client.get("/search/repositories", params={"q": "language:Python"})
    assert b'"a \\ud800 b"' in r.content
    assert r.json()["items"][0]["description"] == "a \ud800 b"


def test_rewrite_body_serves_bytes_github_might_send(gh, client):
    gh.add_repo(repo(1, "x", description="MARK"))
    gh.rewrite_body("/search/", rb"MARK", b"\xff")
    gh.rewrite_body("/search/", rb'"total_count": \d+', b'"total_count": "many"')
    body = client.get("/search/repositories", params={"q": "language:Python"}).content
    assert b'"description": "\xff"' in body and b'"total_count": "many"' in body


def test_repeat_in_search_serves_a_repository_twice(gh, client):
    gh.add_repo(repo(1, "x", stars=5))
    gh.add_repo(repo(2, "y", stars=9))
    gh.repeat_in_search(2)
    r = client.get("/search/repositories", params={"q": "language:Python", "sort": "stars"})
    assert [i["id"] for i in r.json()["items"]] == [2, 2, 1] and r.json()["total_count"] == 3


def test_enforced_rate_limit_refuses_with_remaining_zero_until_the_reset():
    now = [1_900_000_000.0]
    with FakeGitHub(clock=lambda: now[0]) as gh, httpx.Client(base_url=gh.url, timeout=5) as client:
        gh.add_repo(repo(1, "x"))
        gh.set_rate_limit("core", 2, window=60)
        assert [client.get("/repos/own1/x").status_code for _ in range(3)] == [200, 200, 403]
        refused = client.get("/repos/own1/x")
        assert refused.headers["x-ratelimit-remaining"] == "0"
        assert refused.json()["message"].startswith("API rate limit exceeded")
        assert int(refused.headers["x-ratelimit-reset"]) == 1_900_000_060
        now[0] += 61
        assert client.get("/repos/own1/x").status_code == 200


# -- POST /graphql --------------------------------------------------------------------------------


NODES = """query Q($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on Repository { databaseId
  nameWithOwner stargazerCount createdAt primaryLanguage { name } licenseInfo { spdxId }
  repositoryTopics(first: 20) { nodes { topic { name } } } open: issues(states: OPEN) { totalCount } } } }"""


def node_id(repo_id: int) -> str:
    return base64.b64encode(f"010:Repository{repo_id}".encode()).decode()


def test_graphql_nodes_resolve_repositories_with_only_the_fields_asked(gh, client):
    gh.add_repo(repo(7, "app", stars=42, topics=["a", "b"], open_issues=3))
    r = client.post("/graphql", json={"query": NODES, "variables": {"ids": [node_id(7)]}}, headers=AUTH)
    assert r.status_code == 200 and r.headers["x-ratelimit-resource"] == "graphql"
    assert r.headers["x-ratelimit-limit"] == "5000" and r.headers["x-ratelimit-used"] == "1"
    assert r.json() == {"data": {"nodes": [{
        "__typename": "Repository", "databaseId": 7, "nameWithOwner": "own7/app", "stargazerCount": 42,
        "createdAt": "2026-08-01T12:00:00Z", "primaryLanguage": {"name": "Python"}, "licenseInfo": {"spdxId": "MIT"},
        "repositoryTopics": {"nodes": [{"topic": {"name": "a"}}, {"topic": {"name": "b"}}]},
        "open": {"totalCount": 3}}]}}


def test_graphql_unknown_node_is_null_with_a_not_found_error(gh, client):
    gh.add_repo(repo(7, "app"))
    gh.add_repo(repo(8, "gone", gone=True))
    ids = [node_id(7), "bm90IGFuIGlk", node_id(8)]
    body = client.post("/graphql", json={"query": NODES, "variables": {"ids": ids}}, headers=AUTH).json()
    assert [n and n["databaseId"] for n in body["data"]["nodes"]] == [7, None, None]
    assert [(e["type"], e["path"]) for e in body["errors"]] == [("NOT_FOUND", ["nodes", 1]), ("NOT_FOUND", ["nodes", 2])]
    assert body["errors"][0]["message"] == "Could not resolve to a node with the global id of 'bm90IGFuIGlk'"
    assert body["errors"][0]["locations"][0]["line"] == 1


def test_graphql_refuses_unknown_fields_and_anonymous_callers(gh, client):
    gh.add_repo(repo(7, "app"))
    bad = client.post("/graphql", json={"query": f'{{ nodes(ids: ["{node_id(7)}"]) {{ ... on Repository {{ stars }} }} }}'},
                      headers=AUTH)
    assert bad.status_code == 200 and "data" not in bad.json()
    assert bad.json()["errors"][0]["message"] == "Field 'stars' doesn't exist on type 'Repository'"
    anonymous = client.post("/graphql", json={"query": "{ rateLimit { remaining } }"})
    assert anonymous.status_code == 401


def test_graphql_spent_budget_is_rate_limited_with_http_200(gh, client):
    gh.set_rate_limit("graphql", 1)
    query = {"query": "{ rateLimit { remaining cost } }"}
    assert client.post("/graphql", json=query, headers=AUTH).json() == {"data": {"rateLimit": {"remaining": 1,
                                                                                                "cost": 1}}}
    spent = client.post("/graphql", json=query, headers=AUTH)
    assert spent.status_code == 200 and spent.headers["x-ratelimit-remaining"] == "0"
    assert spent.json()["errors"][0]["type"] == "RATE_LIMITED"
