"""Repository look-ups by node id through GitHub's GraphQL API, answered in the REST shape.

Code-search hits carry a *minimal* repository (no stars, dates or language), but they do carry its
``node_id``. One ``nodes(ids: [...])`` query returns up to 100 repositories for a few points of
the hourly GraphQL budget (5,000 points; the topics and open-issue counts are the connections that
cost), where REST needs one request per repository.

The answer is mapped into the REST ``full-repository`` field names that staging reads (``id`` =
``databaseId``, ``full_name`` = ``nameWithOwner``...), so every category is validated by one set
of rules; ``raw_github_repos.api_source`` records that a row came from GraphQL. Only the fields
trender uses are asked for.

Ours because one query and its mapping are all trender needs of GraphQL; a GraphQL client library
would add a schema layer and still not know GitHub's rate-limit answers (see ``transport``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import httpx

from trender_assets.errors import GitHubError
from trender_assets.github import answers
from trender_assets.github.transport import Transport
from trender_assets.logic.raw_items import storable_text

NODES_PER_QUERY = 100

REPOSITORY_NODES_QUERY = """
query RepositoriesByNodeId($ids: [ID!]!) {
  nodes(ids: $ids) {
    __typename
    ... on Repository {
      id
      databaseId
      nameWithOwner
      description
      homepageUrl
      url
      isArchived
      createdAt
      pushedAt
      updatedAt
      stargazerCount
      forkCount
      primaryLanguage { name }
      licenseInfo { spdxId }
      repositoryTopics(first: 20) { nodes { topic { name } } }
      openIssues: issues(states: OPEN) { totalCount }
      openPullRequests: pullRequests(states: OPEN) { totalCount }
    }
  }
}
""".strip()


def graphql_url(api_url: str) -> str:
    """GitHub.com serves GraphQL at ``/graphql`` beside the REST root; GitHub Enterprise Server at
    ``/api/graphql`` beside ``/api/v3``."""
    url = httpx.URL(api_url.rstrip("/"))
    path = url.path.rstrip("/")
    if path.endswith("/api/v3"):
        return str(url.copy_with(path=path[: -len("/v3")] + "/graphql"))
    return str(url.copy_with(path=path + "/graphql"))


def _name(value: Any) -> Optional[str]:
    return value.get("name") if isinstance(value, dict) else None


def _total(value: Any) -> Optional[int]:
    return value.get("totalCount") if isinstance(value, dict) else None


def rest_shape(node: dict) -> dict:
    """A GraphQL ``Repository`` node under the REST field names staging validates.

    A field GitHub could not give (a partial error leaves it null beside an error) stays null, so
    staging stores it as unknown, never as 0; a sum with an unknown part is unknown too."""
    license_info = node.get("licenseInfo")
    topics = node.get("repositoryTopics")
    topic_nodes = topics.get("nodes") if isinstance(topics, dict) else None
    issues, pulls = _total(node.get("openIssues")), _total(node.get("openPullRequests"))
    return {
        "id": node.get("databaseId"),
        "node_id": node.get("id"),
        "full_name": node.get("nameWithOwner"),
        "html_url": node.get("url"),
        "description": node.get("description"),
        "homepage": node.get("homepageUrl") or None,
        "created_at": node.get("createdAt"),
        "pushed_at": node.get("pushedAt"),
        "updated_at": node.get("updatedAt"),
        "stargazers_count": node.get("stargazerCount"),
        "forks_count": node.get("forkCount"),
        # REST's open_issues_count counts open issues and open pull requests together
        "open_issues_count": issues + pulls if isinstance(issues, int) and isinstance(pulls, int) else None,
        "language": _name(node.get("primaryLanguage")),
        "license": {"spdx_id": license_info.get("spdxId")} if isinstance(license_info, dict) else None,
        "topics": ([_name(t.get("topic")) for t in topic_nodes if isinstance(t, dict)]
                   if isinstance(topic_nodes, list) else []),
        "archived": node.get("isArchived"),
    }


@dataclass(frozen=True)
class NodeLookup:
    found: dict[str, dict]  # node id -> GraphQL node, in the order asked
    missing: dict[str, str]  # node id -> why it has no repository (NOT_FOUND, not a repository...)
    fields_not_given: Counter = field(default_factory=Counter)  # field -> found nodes it is null in, by error


def _usable(response: httpx.Response, body: Any) -> Optional[str]:
    """An answer is a JSON object whose ``errors``, if any, is a list: any other shape is unusable,
    retried like a truncated body and, if it stays so, one line naming the query."""
    if response.status_code >= 400:
        return None
    if not isinstance(body, dict):
        return "unreadable JSON"
    if body.get("errors") is not None and not isinstance(body["errors"], list):
        return "errors that are not a list"
    return None


def query(transport: Transport, url: str, text: str, variables: dict, what: str) -> dict:
    """POST a GraphQL query; the body (``data`` and any per-item ``errors``). A body without
    ``data`` is a systemic failure: the query itself was refused."""
    answer = transport.request(url, what, method="POST", json_body={"query": text, "variables": variables},
                               usable=_usable)
    response, body = answer.response, answer.body
    if response.status_code >= 400:
        raise GitHubError(answers.refused(response.status_code, what, response))
    if answer.problem:
        raise GitHubError(f"GitHub kept sending {answer.problem} for {what}")
    if not isinstance(body.get("data"), dict):
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        detail = "; ".join(storable_text(str(e.get("message"))) or "" for e in errors if isinstance(e, dict))
        raise GitHubError(f"GitHub refused {what}: {detail or 'no data in the answer'}")
    return body


def repositories_by_node_id(transport: Transport, url: str, node_ids: Sequence[str]) -> NodeLookup:
    """Repository nodes for ``node_ids``, 100 per query. A node GitHub cannot resolve (``null`` plus
    a NOT_FOUND error) is a per-item answer, listed in ``missing``; a field of a found node GitHub
    could not give (an error whose path goes below the node) is counted in ``fields_not_given``."""
    found: dict[str, dict] = {}
    missing: dict[str, str] = {}
    not_given: Counter = Counter()
    ids = list(dict.fromkeys(node_ids))
    for start in range(0, len(ids), NODES_PER_QUERY):
        batch = ids[start:start + NODES_PER_QUERY]
        what = f"repository look-up of {len(batch)} node ids"
        body = query(transport, url, REPOSITORY_NODES_QUERY, {"ids": batch}, what)
        nodes = body["data"].get("nodes")
        if not isinstance(nodes, list) or len(nodes) != len(batch):
            raise GitHubError(f"GitHub answered the {what} without one node per id")
        reasons: dict[int, str] = {}
        fields: dict[int, set[str]] = {}
        for error in body.get("errors") or []:
            path = error.get("path") if isinstance(error, dict) else None
            if isinstance(path, list) and len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], int):
                reason = storable_text(str(error.get("type") or error.get("message"))) or "error"
                if len(path) == 2:  # about the node itself
                    reasons[path[1]] = reason
                else:  # about one of its fields: the node may still come
                    reasons.setdefault(path[1], reason)
                    fields.setdefault(path[1], set()).add(storable_text(str(path[2])) or "?")
            else:
                raise GitHubError(f"GitHub refused the {what}: {answers.graphql_message(error)}")
        for index, (node_id, node) in enumerate(zip(batch, nodes)):
            if isinstance(node, dict) and node.get("__typename") == "Repository":
                found[node_id] = node
                not_given.update(fields.get(index, ()))
            else:
                missing[node_id] = reasons.get(index) or ("NOT_A_REPOSITORY" if node else "NOT_FOUND")
    return NodeLookup(found, missing, not_given)
