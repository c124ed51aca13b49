//! Secrets on AWS against moto through the real SDK clients: `env:` values stored as SSM
//! SecureStrings under the service's path, `aws-ssm:`/`aws-sm:` referenced where they are,
//! the task definition holding `secrets` with `valueFrom` and no plain value, and the service's
//! own execution role reading exactly those ARNs. Missing sources and a foreign parameter at
//! our path are refused before anything exists; destroy removes only what the deploy stored.
#![cfg(feature = "aws")]

#[path = "support/moto.rs"]
mod moto;

use moto::Setup;

const TOKEN: &str = "tok-9f2e61c4a0";
const YAML: &str = "name: shop\nservices:\n  api:\n    image: nginx:1.27\n    expose: 8080\n    env:\n      MODE: prod\n    secrets:\n      API_TOKEN: env:NK_TEST_TOKEN\n      SESSION_KEY: aws-ssm:/shop/prod/session-key\n      DB_CERT: aws-sm:shop/prod/db-cert\nenvironments:\n  prod:\n    infra:\n      provider: aws\n      region: us-east-1\n";

async fn vpc_count(ec2: &aws_sdk_ec2::Client) -> usize {
    ec2.describe_vpcs()
        .filters(aws_sdk_ec2::types::Filter::builder().name("tag:nk-project").values("shop").build())
        .send()
        .await
        .unwrap()
        .vpcs()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_become_ecs_secrets_read_by_the_services_own_role() {
    let s = Setup::new();
    let repo = s.repo("shop", YAML);
    let config = s.config().await;
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let ecs = aws_sdk_ecs::Client::new(&config);
    let ssm = aws_sdk_ssm::Client::new(&config);
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let vars = [("NK_TEST_TOKEN", TOKEN)];
    let up = ["up", "--env", "prod"];

    // The user's own parameter exists; their Secrets Manager secret does not yet.
    ssm.put_parameter()
        .name("/shop/prod/session-key")
        .value("session-value")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(!ok, "{out}");
    assert!(out.contains("Secrets Manager secret `shop/prod/db-cert` does not exist"), "{out}");
    assert_eq!(vpc_count(&ec2).await, 0, "refused before anything exists");
    sm.create_secret().name("shop/prod/db-cert").secret_string("cert-value").send().await.unwrap();

    // A parameter at the path the deploy writes to, made by another component: refused, kept.
    let ours = "/nanokit/shop/prod/api/API_TOKEN";
    ssm.put_parameter()
        .name(ours)
        .value("someone-elses")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .tags(aws_sdk_ssm::types::Tag::builder().key("nk-project").value("shop").build().unwrap())
        .tags(aws_sdk_ssm::types::Tag::builder().key("nk-env").value("prod").build().unwrap())
        .tags(aws_sdk_ssm::types::Tag::builder().key("nk-component").value("other-repo").build().unwrap())
        .send()
        .await
        .unwrap();
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(!ok, "{out}");
    assert!(out.contains(ours) && out.contains("other-repo"), "the refusal names the object and its owner: {out}");
    assert_eq!(vpc_count(&ec2).await, 0, "refused before anything exists");
    let kept = ssm.get_parameter().name(ours).with_decryption(true).send().await.unwrap();
    assert_eq!(kept.parameter().unwrap().value(), Some("someone-elses"));
    ssm.delete_parameter().name(ours).send().await.unwrap();

    // A role with the name the service's own role would have, made by someone else: refused.
    let foreign_role = iam
        .create_role()
        .role_name("nk-shop-prod-api-secrets")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .tags(aws_sdk_iam::types::Tag::builder().key("nk-project").value("shop").build().unwrap())
        .tags(aws_sdk_iam::types::Tag::builder().key("nk-env").value("prod").build().unwrap())
        .tags(aws_sdk_iam::types::Tag::builder().key("nk-component").value("other-repo").build().unwrap())
        .send()
        .await
        .unwrap();
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(!ok && out.contains("nk-shop-prod-api-secrets") && out.contains("other-repo"), "{out}");
    assert_eq!(vpc_count(&ec2).await, 0, "refused before anything exists");
    assert!(ssm.get_parameter().name(ours).send().await.is_err(), "and before any value is stored");
    iam.delete_role().role_name(foreign_role.role().unwrap().role_name()).send().await.unwrap();

    // An empty value cannot be stored: refused before anything exists, not half-way.
    let (ok, out) = s.nkdev_with(&repo, &up, &[("NK_TEST_TOKEN", "")]);
    assert!(!ok && out.contains("SSM stores 1 to 4096 bytes, this value has 0"), "{out}");
    assert_eq!(vpc_count(&ec2).await, 0, "refused before anything exists");

    // Deployed.
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(ok, "{out}");
    assert!(!out.contains(TOKEN), "{out}");
    let stored = ssm.get_parameter().name(ours).with_decryption(true).send().await.unwrap();
    let stored = stored.parameter().unwrap();
    assert_eq!((stored.value(), stored.r#type()), (Some(TOKEN), Some(&aws_sdk_ssm::types::ParameterType::SecureString)));
    let session_arn =
        ssm.get_parameter().name("/shop/prod/session-key").send().await.unwrap().parameter().unwrap().arn().unwrap().to_string();
    let cert_arn = sm.describe_secret().secret_id("shop/prod/db-cert").send().await.unwrap().arn().unwrap().to_string();
    let stored_arn = stored.arn().unwrap().to_string();

    let task = ecs.describe_task_definition().task_definition("nk-shop-prod-api").send().await.unwrap();
    let task = task.task_definition().unwrap();
    let container = &task.container_definitions()[0];
    let mut secrets: Vec<(String, String)> =
        container.secrets().iter().map(|s| (s.name().to_string(), s.value_from().to_string())).collect();
    secrets.sort();
    assert_eq!(
        secrets,
        vec![
            ("API_TOKEN".to_string(), stored_arn.clone()),
            ("DB_CERT".to_string(), cert_arn.clone()),
            ("SESSION_KEY".to_string(), session_arn.clone())
        ]
    );
    assert!(container.environment().iter().all(|kv| !["API_TOKEN", "SESSION_KEY", "DB_CERT"].contains(&kv.name().unwrap_or_default())));
    assert!(container.environment().iter().any(|kv| kv.name() == Some("MODE")), "plain env stays plain");
    assert!(!format!("{task:?}").contains(TOKEN), "no value anywhere in the task definition");

    // The service's own role reads exactly these, nothing else.
    let role_arn = task.execution_role_arn().unwrap();
    assert!(role_arn.ends_with("/nk-shop-prod-api-secrets"), "{role_arn}");
    let policy = iam.get_role_policy().role_name("nk-shop-prod-api-secrets").policy_name("nanokit-secrets").send().await.unwrap();
    let document = urlencoding_decode(policy.policy_document());
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    let mut statements: Vec<(String, Vec<String>)> = document["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            let action = st["Action"][0].as_str().unwrap().to_string();
            let mut resources: Vec<String> = st["Resource"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect();
            resources.sort();
            (action, resources)
        })
        .collect();
    statements.sort();
    let mut ssm_arns = vec![stored_arn.clone(), session_arn.clone()];
    ssm_arns.sort();
    assert_eq!(
        statements,
        vec![("secretsmanager:GetSecretValue".to_string(), vec![cert_arn.clone()]), ("ssm:GetParameters".to_string(), ssm_arns)]
    );

    // Idempotent; then a changed value rolls the service (a new task definition revision).
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(ok && out.contains("nothing to do"), "{out}");
    let (ok, out) = s.nkdev_with(&repo, &up, &[("NK_TEST_TOKEN", "tok-rotated")]);
    assert!(ok && out.contains("recreate api (configuration changed"), "{out}");
    let rotated = ssm.get_parameter().name(ours).with_decryption(true).send().await.unwrap();
    assert_eq!(rotated.parameter().unwrap().value(), Some("tok-rotated"));

    // A secret that leaves the file takes its stored value with it; the others stay, and so
    // does a parameter someone else made under the service's path (not ours: never deleted,
    // and no reason to stop a deploy).
    ssm.put_parameter()
        .name("/nanokit/shop/prod/api/HANDMADE")
        .value("x")
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
    std::fs::write(
        repo.join("nanokit.yml"),
        YAML.replace("      API_TOKEN: env:NK_TEST_TOKEN\n", "      OTHER_TOKEN: env:NK_TEST_TOKEN\n"),
    )
    .unwrap();
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(ok, "{out}");
    assert!(ssm.get_parameter().name(ours).send().await.is_err(), "the removed secret's value is gone");
    assert!(ssm.get_parameter().name("/nanokit/shop/prod/api/OTHER_TOKEN").send().await.is_ok());
    assert!(ssm.get_parameter().name("/nanokit/shop/prod/api/HANDMADE").send().await.is_ok(), "not ours: kept");

    // A service that no longer has secrets runs with the cluster's role; its own stays until
    // the service is removed (tasks of the previous revision drain with it).
    let (head, rest) = YAML.split_once("    secrets:\n").unwrap();
    let without = format!("{head}{}", &rest[rest.find("environments:").unwrap()..]);
    std::fs::write(repo.join("nanokit.yml"), &without).unwrap();
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(ok, "{out}");
    assert!(ssm.get_parameter().name("/nanokit/shop/prod/api/OTHER_TOKEN").send().await.is_err());
    let task = ecs.describe_task_definition().task_definition("nk-shop-prod-api").send().await.unwrap();
    assert!(task.task_definition().unwrap().execution_role_arn().unwrap().ends_with("/nk-shop-prod-exec"));
    std::fs::write(
        repo.join("nanokit.yml"),
        YAML.replace("      API_TOKEN: env:NK_TEST_TOKEN\n", "      OTHER_TOKEN: env:NK_TEST_TOKEN\n"),
    )
    .unwrap();
    let (ok, out) = s.nkdev_with(&repo, &up, &vars);
    assert!(ok, "{out}");

    // Destroy removes what the deploy stored, never the user's own sources.
    let (ok, out) = s.nkdev_with(&repo, &["destroy", "--env", "prod"], &vars);
    assert!(ok, "{out}");
    assert!(ssm.get_parameter().name("/nanokit/shop/prod/api/OTHER_TOKEN").send().await.is_err(), "the stored parameter is gone");
    assert!(iam.get_role().role_name("nk-shop-prod-api-secrets").send().await.is_err(), "the service's role is gone");
    assert!(ssm.get_parameter().name("/shop/prod/session-key").send().await.is_ok(), "the user's parameter stays");
    assert!(ssm.get_parameter().name("/nanokit/shop/prod/api/HANDMADE").send().await.is_ok(), "so does one nanokit did not make");
    assert!(sm.describe_secret().secret_id("shop/prod/db-cert").send().await.is_ok(), "the user's secret stays");
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8().unwrap().into_owned()
}
