//! `infra.dns: aws`: a CNAME per service `host` to the load balancer, in the Route 53 hosted
//! zone that holds the host (created when `autoCreateDomain: true`).
//!
//! Hostnames are case-insensitive: every record and zone lookup here uses the lower-cased
//! host, whatever case the file (or a caller) wrote it in.

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use nanokit_deploy::provider::ProviderError;

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
        .filter(|z| {
            let zone = z.name().to_ascii_lowercase();
            let zone = if zone.ends_with('.') { zone } else { format!("{zone}.") };
            fqdn == zone || fqdn.ends_with(&format!(".{zone}"))
        })
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
        .caller_reference(format!("nanokit-{domain}-{}", nanokit_deploy::lock::now()))
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
    let host = &host.trim_end_matches('.').to_ascii_lowercase();
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
    if action == ChangeAction::Upsert {
        refuse_foreign_record(client, &zone, host, &balancer(target)).await?;
    }
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

/// The load balancer name in its DNS name: `nk-shop-prod-1234abcd.elb.us-east-1.amazonaws.com`
/// → `nk-shop-prod`.
fn balancer(dns: &str) -> String {
    let first = dns.trim_end_matches('.').split('.').next().unwrap_or_default().to_ascii_lowercase();
    first.rsplit_once('-').map_or(first.clone(), |(name, _)| name.to_string())
}

/// A record of `host` that exists and points anywhere but at the load balancer called
/// `balancer_name` (the cluster's, or an earlier one of the same name) was not made by nanokit
/// for this cluster: never overwritten.
async fn refuse_foreign_record(client: &aws_sdk_route53::Client, zone: &str, host: &str, balancer_name: &str) -> Result<(), ProviderError> {
    let fqdn = format!("{host}.");
    let found = client
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .start_record_name(&fqdn)
        .max_items(4)
        .send()
        .await
        .map_err(|e| err(&format!("cannot read the DNS records of `{host}`"), e))?;
    for record in found.resource_record_sets().iter().filter(|r| r.name().trim_end_matches('.').eq_ignore_ascii_case(host)) {
        let values: Vec<&str> = record.resource_records().iter().map(|r| r.value()).collect();
        let ours = record.r#type() == &RrType::Cname && values.iter().all(|v| balancer(v) == balancer_name.to_ascii_lowercase());
        if !ours {
            return Err(ProviderError::new(format!(
                "the DNS record of `{host}` ({} {}) already exists and does not point at this cluster's load balancer; nkdev never overwrites a record it did not make: remove it, or give the service another host",
                record.r#type().as_str(),
                values.join(", ")
            )));
        }
    }
    Ok(())
}

/// Before anything changes: refuse a `host` whose record exists and is not this cluster's
/// (see [`refuse_foreign_record`]).
pub async fn check(client: &aws_sdk_route53::Client, host: &str, balancer_name: &str) -> Result<(), ProviderError> {
    let host = &host.trim_end_matches('.').to_ascii_lowercase();
    match zone_for(client, host, false).await? {
        Some(zone) => refuse_foreign_record(client, &zone, host, balancer_name).await,
        None => Ok(()),
    }
}

pub async fn upsert(client: &aws_sdk_route53::Client, host: &str, target: &str, create_zone: bool) -> Result<(), ProviderError> {
    change(client, ChangeAction::Upsert, host, target, create_zone).await
}

pub async fn delete(client: &aws_sdk_route53::Client, host: &str, target: &str) -> Result<(), ProviderError> {
    change(client, ChangeAction::Delete, host, target, false).await
}
