//! Accounts end to end on both backends: search, groups and their claims,
//! attribute changes, recovery.

use serde_json::{Value, json};

use crate::auth::pool_and_client;
use crate::harness::*;

fn names(users: &Value) -> Vec<String> {
    let mut v: Vec<String> =
        users.as_array().unwrap().iter().map(|u| u["Username"].as_str().unwrap().to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn list_users_filters_and_pages_on_both_backends() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, _client) = pool_and_client(&s, json!({}), json!({})).await;
        for (u, given, email) in [
            ("ann", "Anne", "ann@example.com"),
            ("bob", "Bob", "Bob@Example.com"),
            ("bea", "Beatrice", "bea@other.org"),
            ("ben", "Benjamin", "ben@example.com"),
        ] {
            confirmed_user(
                &s,
                &pool_id,
                u,
                json!([{"Name": "given_name", "Value": given}, {"Name": "email", "Value": email}]),
            )
            .await;
        }
        s.idp("AdminDisableUser", json!({"UserPoolId": pool_id, "Username": "ben"})).await.ok();
        let server = &s;
        let list = |filter: &str| {
            let body = json!({"UserPoolId": pool_id, "Filter": filter});
            async move { server.idp("ListUsers", body).await }
        };
        assert_eq!(names(&list(r#"email = "bob@example.com""#).await.ok()["Users"]), ["bob"], "{backend:?}");
        assert_eq!(names(&list(r#"given_name ^= "Be""#).await.ok()["Users"]), ["bea", "ben"]);
        assert_eq!(names(&list(r#"status = "Disabled""#).await.ok()["Users"]), ["ben"]);
        assert_eq!(names(&list(r#"cognito:user_status = "confirmed""#).await.ok()["Users"]).len(), 4);
        assert_eq!(names(&list(r#"username ^= "b""#).await.ok()["Users"]), ["bea", "ben", "bob"]);
        assert!(list(r#"given_name ^= "Zed""#).await.ok()["Users"].as_array().unwrap().is_empty());
        list(r#"nickname = "x""#).await.assert_error(400, "InvalidParameterException");
        list(r#"email = unquoted"#).await.assert_error(400, "InvalidParameterException");

        // Pages of one, through a prefix filter and without one.
        for filter in [r#"given_name ^= "B""#, ""] {
            let mut seen = Vec::new();
            let mut token: Option<String> = None;
            loop {
                let mut body = json!({"UserPoolId": pool_id, "Limit": 1, "Filter": filter, "AttributesToGet": ["email"]});
                if let Some(t) = &token {
                    body["PaginationToken"] = json!(t);
                }
                let page = s.idp("ListUsers", body).await.ok().clone();
                let users = page["Users"].as_array().unwrap();
                assert!(users.len() <= 1);
                for u in users {
                    let attrs: Vec<&str> = u["Attributes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a["Name"].as_str().unwrap())
                        .collect();
                    assert_eq!(attrs, ["email"]);
                    seen.push(u["Username"].as_str().unwrap().to_string());
                }
                match page.get("PaginationToken").and_then(Value::as_str) {
                    Some(t) => token = Some(t.to_string()),
                    None => break,
                }
            }
            seen.sort();
            let want: Vec<&str> =
                if filter.is_empty() { vec!["ann", "bea", "ben", "bob"] } else { vec!["bea", "ben", "bob"] };
            assert_eq!(seen, want, "{backend:?} {filter}");
        }
        // Updates move the index with the user.
        s.idp(
            "AdminUpdateUserAttributes",
            json!({"UserPoolId": pool_id, "Username": "ann", "UserAttributes": [{"Name": "given_name", "Value": "Bella"}]}),
        )
        .await
        .ok();
        assert_eq!(names(&list(r#"given_name ^= "Be""#).await.ok()["Users"]), ["ann", "bea", "ben"]);
        assert!(list(r#"given_name = "Anne""#).await.ok()["Users"].as_array().unwrap().is_empty());
        s.finish().await;
    }
}

#[tokio::test]
async fn group_claims_follow_precedence_on_both_backends() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
        confirmed_user(&s, &pool_id, "gus", json!([])).await;
        for (name, role, precedence) in [
            ("admins", Some("arn:aws:iam::000000000000:role/Admin"), Some(1)),
            ("staff", Some("arn:aws:iam::000000000000:role/Staff"), Some(5)),
            ("readers", None, None),
        ] {
            let mut body = json!({"UserPoolId": pool_id, "GroupName": name});
            if let Some(r) = role {
                body["RoleArn"] = json!(r);
            }
            if let Some(p) = precedence {
                body["Precedence"] = json!(p);
            }
            s.idp("CreateGroup", body).await.ok();
            s.idp(
                "AdminAddUserToGroup",
                json!({"UserPoolId": pool_id, "Username": "gus", "GroupName": name}),
            )
            .await
            .ok();
        }
        s.idp("CreateGroup", json!({"UserPoolId": pool_id, "GroupName": "admins"}))
            .await
            .assert_error(400, "GroupExistsException");
        let auth = s
            .public(
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": "gus", "PASSWORD": "Str0ng!pass"}}),
            )
            .await
            .ok()["AuthenticationResult"]
            .clone();
        let id = claims(auth["IdToken"].as_str().unwrap());
        assert_eq!(id["cognito:groups"], json!(["admins", "staff", "readers"]), "{backend:?}");
        assert_eq!(
            id["cognito:roles"],
            json!(["arn:aws:iam::000000000000:role/Admin", "arn:aws:iam::000000000000:role/Staff"])
        );
        assert_eq!(id["cognito:preferred_role"], "arn:aws:iam::000000000000:role/Admin");
        let access = claims(auth["AccessToken"].as_str().unwrap());
        assert_eq!(access["cognito:groups"], id["cognito:groups"]);
        assert!(access.get("cognito:roles").is_none());

        // A tie at the best precedence between different roles: no preferred role.
        s.idp(
            "UpdateGroup",
            json!({"UserPoolId": pool_id, "GroupName": "staff", "RoleArn": "arn:aws:iam::000000000000:role/Staff", "Precedence": 1}),
        )
        .await
        .ok();
        let auth = s
            .public(
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": "gus", "PASSWORD": "Str0ng!pass"}}),
            )
            .await
            .ok()["AuthenticationResult"]
            .clone();
        assert!(claims(auth["IdToken"].as_str().unwrap()).get("cognito:preferred_role").is_none());

        let members = s
            .idp("ListUsersInGroup", json!({"UserPoolId": pool_id, "GroupName": "staff"}))
            .await
            .ok()
            .clone();
        assert_eq!(names(&members["Users"]), ["gus"]);
        s.idp(
            "AdminRemoveUserFromGroup",
            json!({"UserPoolId": pool_id, "Username": "gus", "GroupName": "staff"}),
        )
        .await
        .ok();
        let groups = s
            .idp("AdminListGroupsForUser", json!({"UserPoolId": pool_id, "Username": "gus"}))
            .await
            .ok()
            .clone();
        assert_eq!(groups["Groups"].as_array().unwrap().len(), 2);
        s.idp("DeleteGroup", json!({"UserPoolId": pool_id, "GroupName": "admins"})).await.ok();
        s.idp("GetGroup", json!({"UserPoolId": pool_id, "GroupName": "admins"}))
            .await
            .assert_error(400, "ResourceNotFoundException");
        s.finish().await;
    }
}

#[tokio::test]
async fn email_change_keeps_the_old_address_until_verified() {
    let s = TestServer::start(Backend::Sqlite).await;
    let (pool_id, client_id) = pool_and_client(&s, json!({"AliasAttributes": ["email"]}), json!({})).await;
    confirmed_user(
        &s,
        &pool_id,
        "eve",
        json!([{"Name": "email", "Value": "eve@old.example"}, {"Name": "email_verified", "Value": "true"}]),
    )
    .await;
    let server = &s;
    let sign_in = |name: &'static str| {
        let body = json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                          "AuthParameters": {"USERNAME": name, "PASSWORD": "Str0ng!pass"}});
        async move { server.public("InitiateAuth", body).await }
    };
    let token = sign_in("eve@old.example").await.ok()["AuthenticationResult"]["AccessToken"].clone();
    let sent = s
        .public(
            "UpdateUserAttributes",
            json!({"AccessToken": token, "UserAttributes": [{"Name": "email", "Value": "eve@new.example"}]}),
        )
        .await
        .ok()
        .clone();
    assert_eq!(sent["CodeDeliveryDetailsList"][0]["AttributeName"], "email");
    let user = s.idp("AdminGetUser", json!({"UserPoolId": pool_id, "Username": "eve"})).await.ok().clone();
    let attr = |u: &Value, n: &str| {
        u["UserAttributes"].as_array().unwrap().iter().find(|a| a["Name"] == n).map(|a| a["Value"].clone())
    };
    assert_eq!(attr(&user, "email"), Some(json!("eve@old.example")));
    sign_in("eve@old.example").await.ok();
    sign_in("eve@new.example").await.assert_error(400, "UserNotFoundException");

    let code = s.outbox_code("eve@new.example");
    s.public("VerifyUserAttribute", json!({"AccessToken": token, "AttributeName": "email", "Code": code}))
        .await
        .ok();
    let user = s.idp("AdminGetUser", json!({"UserPoolId": pool_id, "Username": "eve"})).await.ok().clone();
    assert_eq!(attr(&user, "email"), Some(json!("eve@new.example")));
    assert_eq!(attr(&user, "email_verified"), Some(json!("true")));
    sign_in("eve@new.example").await.ok();
    sign_in("eve@old.example").await.assert_error(400, "UserNotFoundException");
    s.finish().await;
}

#[tokio::test]
async fn password_reset_ends_every_session_on_both_backends() {
    for backend in BACKENDS {
        let s = TestServer::start(backend).await;
        let (pool_id, client_id) = pool_and_client(&s, json!({}), json!({})).await;
        confirmed_user(
            &s,
            &pool_id,
            "fay",
            json!([{"Name": "email", "Value": "fay@example.com"}, {"Name": "email_verified", "Value": "true"}]),
        )
        .await;
        let auth = s
            .public(
                "InitiateAuth",
                json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": "fay", "PASSWORD": "Str0ng!pass"}}),
            )
            .await
            .ok()["AuthenticationResult"]
            .clone();
        let sent =
            s.public("ForgotPassword", json!({"ClientId": client_id, "Username": "fay"})).await.ok().clone();
        assert_eq!(sent["CodeDeliveryDetails"]["DeliveryMedium"], "EMAIL", "{backend:?}");
        let code = s.outbox_code("fay@example.com");
        s.public(
            "ConfirmForgotPassword",
            json!({"ClientId": client_id, "Username": "fay", "ConfirmationCode": code, "Password": "N3w!password"}),
        )
        .await
        .ok();
        s.public("GetUser", json!({"AccessToken": auth["AccessToken"]}))
            .await
            .assert_error(400, "NotAuthorizedException");
        s.public(
            "InitiateAuth",
            json!({"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                   "AuthParameters": {"REFRESH_TOKEN": auth["RefreshToken"]}}),
        )
        .await
        .assert_error(400, "NotAuthorizedException");
        s.public(
            "InitiateAuth",
            json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                   "AuthParameters": {"USERNAME": "fay", "PASSWORD": "N3w!password"}}),
        )
        .await
        .ok();
        let events = s
            .idp("AdminListUserAuthEvents", json!({"UserPoolId": pool_id, "Username": "fay"}))
            .await
            .ok()["AuthEvents"]
            .clone();
        assert_eq!(events.as_array().unwrap().len(), 2, "{backend:?}: two sign-ins recorded");
        assert_eq!(events[0]["EventResponse"], "Pass");
        assert_eq!(events[0]["EventContextData"]["IpAddress"], "127.0.0.1");
        s.finish().await;
    }
}
