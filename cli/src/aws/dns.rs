//! `infra.dns: aws`: a CNAME per service `host` to the load balancer, in the Route 53 hosted
//! zone that holds the host (created when `autoCreateDomain: true`).

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use nanokit_core::provider::ProviderError;

fn err<E: aws_sdk_route53::error::ProvideErrorMetadata + std::error::Error + 'static>(context: &str, e: E) -> ProviderError {
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => ProviderError::new(format!("{context}: {code}: {message}")),
        _ => ProviderError::new(format!("{context}: {}", aws_sdk_route53::error::DisplayErrorContext(e))),
    }
}

/// The most specific hosted zone whose name is a suffix of `host`.
async fn zone_for(client: &aws_sdk_route53::Client, host: &str, create: bool) -> Result<Option<String>, ProviderError> {
    let fqdn = format!("{}.", host.trim_end_matches('.'));
    let zones = client.list_hosted_zones().send().await.map_err(|e| err("cannot list Route 53 hosted zones", e))?;
    let best = zones
        .hosted_zones()
        .iter()
        .filter(|z| fqdn == z.name() || fqdn.ends_with(&format!(".{}", z.name())))
        .max_by_key(|z| z.name().len())
        .map(|z| z.id().to_string());
    if best.is_some() || !create {
        return Ok(best);
    }
    // autoCreateDomain: a zone for the registrable part of the host (its last two labels).
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let domain = labels[labels.len().saturating_sub(2)..].join(".");
    let created = client
        .create_hosted_zone()
        .name(&domain)
        .caller_reference(format!("nanokit-{domain}-{}", crate::deploy::lock::now()))
        .send()
        .await
        .map_err(|e| err(&format!("cannot create the hosted zone {domain}"), e))?;
    Ok(created.hosted_zone().map(|z| z.id().to_string()))
}

async fn change(
    client: &aws_sdk_route53::Client,
    action: ChangeAction,
    host: &str,
    target: &str,
    create: bool,
) -> Result<(), ProviderError> {
    let Some(zone) = zone_for(client, host, create).await? else {
        if action == ChangeAction::Delete {
            return Ok(());
        }
        return Err(ProviderError::new(format!(
            "no Route 53 hosted zone holds `{host}`; create one, or set `autoCreateDomain: true` in this environment's infra"
        )));
    };
    let record = ResourceRecordSet::builder()
        .name(host)
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(target).build().map_err(|e| ProviderError::new(e.to_string()))?)
        .build()
        .map_err(|e| ProviderError::new(e.to_string()))?;
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder().action(action.clone()).resource_record_set(record).build().map_err(|e| ProviderError::new(e.to_string()))?,
        )
        .build()
        .map_err(|e| ProviderError::new(e.to_string()))?;
    match client.change_resource_record_sets().hosted_zone_id(zone).change_batch(batch).send().await {
        Ok(_) => Ok(()),
        // Deleting a record that is already gone is what we wanted.
        Err(e)
            if action == ChangeAction::Delete && aws_sdk_route53::error::ProvideErrorMetadata::code(&e) == Some("InvalidChangeBatch") =>
        {
            Ok(())
        }
        Err(e) => Err(err(&format!("cannot update the DNS record of `{host}`"), e)),
    }
}

pub async fn upsert(client: &aws_sdk_route53::Client, host: &str, target: &str, create_zone: bool) -> Result<(), ProviderError> {
    change(client, ChangeAction::Upsert, host, target, create_zone).await
}

pub async fn delete(client: &aws_sdk_route53::Client, host: &str, target: &str) -> Result<(), ProviderError> {
    change(client, ChangeAction::Delete, host, target, false).await
}
