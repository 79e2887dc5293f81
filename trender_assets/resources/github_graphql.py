"""Repository look-ups by node id through GitHub's GraphQL API, answered in the REST shape.

Code-search hits carry a *minimal* repository (no stars, dates or language), but they do carry its
``node_id``. One ``nodes(ids: [...])`` query returns up to 100 repositories for a few points of
the hourly GraphQL budget (5,000 points; the topics and open-issue counts are the connections that
cost), where REST needs one request per repository.

The answer is mapped into the REST ``full-repository`` field names that staging reads (``id`` =
``databaseId``, ``full_name`` = ``nameWithOwner``...), so every category is validated by one set
of rules; ``raw_github_repos.api_source`` records that a row came from GraphQL. Only the fields
trender uses are asked for.
"""

from __future__ import annotations

from typing import Any, Optional

import httpx

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
    """A GraphQL ``Repository`` node under the REST field names staging validates."""
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
        "open_issues_count": issues + pulls if isinstance(issues, int) and isinstance(pulls, int) else issues,
        "language": _name(node.get("primaryLanguage")),
        "license": {"spdx_id": license_info.get("spdxId")} if isinstance(license_info, dict) else None,
        "topics": ([_name(t.get("topic")) for t in topic_nodes if isinstance(t, dict)]
                   if isinstance(topic_nodes, list) else []),
        "archived": node.get("isArchived"),
    }
