"""Resource servers (Create/Describe/Update/Delete/ListResourceServers) and
their custom scopes on app clients, through boto3."""

from __future__ import annotations

import pytest

from harness import expect_error, new_pool, unique


def scopes(*names):
    return [{"ScopeName": n, "ScopeDescription": f"{n} access"} for n in names]


def test_resource_server_lifecycle(idp):
    pid = new_pool(idp)
    created = idp.create_resource_server(UserPoolId=pid, Identifier="https://api.example.com", Name="api",
                                         Scopes=scopes("read", "write"))["ResourceServer"]
    assert created == {"UserPoolId": pid, "Identifier": "https://api.example.com", "Name": "api",
                       "Scopes": scopes("read", "write")}
    got = idp.describe_resource_server(UserPoolId=pid, Identifier="https://api.example.com")["ResourceServer"]
    assert got == created
    updated = idp.update_resource_server(UserPoolId=pid, Identifier="https://api.example.com", Name="api v2",
                                         Scopes=scopes("read"))["ResourceServer"]
    assert updated["Name"] == "api v2" and updated["Scopes"] == scopes("read")
    expect_error("InvalidParameterException", idp.create_resource_server, UserPoolId=pid,
                 Identifier="https://api.example.com", Name="again")
    idp.delete_resource_server(UserPoolId=pid, Identifier="https://api.example.com")
    expect_error("ResourceNotFoundException", idp.describe_resource_server, UserPoolId=pid,
                 Identifier="https://api.example.com")
    expect_error("ResourceNotFoundException", idp.delete_resource_server, UserPoolId=pid,
                 Identifier="https://api.example.com")


def test_list_pages(idp):
    pid = new_pool(idp)
    names = [f"svc-{i}" for i in range(3)]
    for n in names:
        idp.create_resource_server(UserPoolId=pid, Identifier=n, Name=n)
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = idp.list_resource_servers(UserPoolId=pid, MaxResults=2, **kwargs)
        assert len(page["ResourceServers"]) <= 2
        seen += [rs["Identifier"] for rs in page["ResourceServers"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    expect_error("InvalidParameterException", idp.list_resource_servers, UserPoolId=pid, MaxResults=51)


@pytest.mark.parametrize("identifier,name,scope", [
    ('quote"d', "n", None),
    ("ok", "bad/name?", None),
    ("ok", "n", "with/slash"),
])
def test_invalid_input(idp, identifier, name, scope):
    pid = new_pool(idp)
    kwargs = {"Scopes": scopes(scope)} if scope else {}
    expect_error("InvalidParameterException", idp.create_resource_server, UserPoolId=pid, Identifier=identifier,
                 Name=name, **kwargs)


def test_custom_scopes_on_app_clients(idp):
    pid = new_pool(idp)
    client = dict(UserPoolId=pid, ClientName=unique("m2m"), GenerateSecret=True,
                  AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True,
                  AllowedOAuthScopes=["orders/read"])
    expect_error("ScopeDoesNotExistException", idp.create_user_pool_client, **client)
    idp.create_resource_server(UserPoolId=pid, Identifier="orders", Name="orders", Scopes=scopes("read", "write"))
    made = idp.create_user_pool_client(**client)["UserPoolClient"]
    assert made["AllowedOAuthScopes"] == ["orders/read"]
    expect_error("ScopeDoesNotExistException", idp.update_user_pool_client, UserPoolId=pid,
                 ClientId=made["ClientId"], AllowedOAuthFlows=["client_credentials"],
                 AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthScopes=["orders/delete"])
