# Layer 4: one application inference profile per tenant, tagged for Cost Explorer and Budgets.
# Split by concern: alarms.tf (per-tenant token alarms for the alarm enforcer), budgets.tf
# (per-tenant budgets through modules/budget), logging.tf (account-level invocation logging and
# saved Logs Insights queries). Every ARN is built from the partition, region and account the
# provider runs in.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id
  dns_suffix = data.aws_partition.current.dns_suffix

  # The cost allocation tag keys every profile carries; Cost Explorer, Budgets and the token
  # gate's metric dimensions all use these exact spellings.
  cost_tag_keys = ["costCenter", "applicationId", "environment"]

  cost_tags = {
    for name, tenant in var.tenants : name => {
      costCenter    = tenant.cost_center
      applicationId = tenant.application_id
      environment   = tenant.environment
    }
  }

  # Cross-Region (system-defined) profile ids start with a geography; the same list as
  # bedrock_guard.core.pricing.GEO_PREFIXES. "us-gov" precedes "us" so the longer prefix wins.
  geo_prefixes  = ["us-gov", "us", "eu", "apac", "jp", "au", "ca", "global"]
  geo_prefix_re = "^(${join("|", local.geo_prefixes)})\\."

  # model_source as given (an ARN) or resolved from an id: a foundation model id becomes this
  # Region's foundation-model ARN, a geography-prefixed id this account's inference-profile ARN.
  sources = {
    for name, tenant in var.tenants : name => {
      is_arn     = startswith(tenant.model_source, "arn:")
      model_id   = startswith(tenant.model_source, "arn:") ? regex("/([^/]+)$", tenant.model_source)[0] : tenant.model_source
      is_profile = startswith(tenant.model_source, "arn:") ? strcontains(tenant.model_source, ":inference-profile/") : can(regex(local.geo_prefix_re, tenant.model_source))
    }
  }

  copy_from = {
    for name, source in local.sources : name => (
      source.is_arn ? var.tenants[name].model_source : (
        source.is_profile
        ? "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${source.model_id}"
        : "arn:${local.partition}:bedrock:${local.region}::foundation-model/${source.model_id}"
      )
    )
  }

  # The base model the token gate prices a profile as: the foundation model itself, or the
  # cross-Region profile's id without its geography prefix. An explicit pricing_model wins.
  pricing_models = {
    for name, source in local.sources : name => coalesce(
      var.tenants[name].pricing_model,
      source.is_profile ? replace(source.model_id, "/${local.geo_prefix_re}/", "") : source.model_id,
    )
  }

  aliases = { for name, tenant in var.tenants : name => coalesce(tenant.alias, name) }

  # Ready to merge into the token gate's model_aliases (MODEL_ALIASES_JSON): exactly the
  # {"target", "pricing_model"} form the gate expects for an inference profile.
  model_aliases = {
    for name, tenant in var.tenants : local.aliases[name] => {
      target        = aws_bedrock_inference_profile.this[name].arn
      pricing_model = local.pricing_models[name]
    }
  }
}

resource "aws_bedrock_inference_profile" "this" {
  for_each = var.tenants

  name        = "${var.name}-${each.key}"
  description = coalesce(each.value.description, "Tenant ${each.key} of ${var.name}")

  model_source {
    copy_from = local.copy_from[each.key]
  }

  # The cost tags come last so that module-wide tags cannot overwrite them.
  tags = merge(var.tags, local.cost_tags[each.key])

  lifecycle {
    # A profile tracks usage in the Region it is created in; a source ARN of another Region
    # (or, for a cross-Region profile, of another account) is a copy-paste mistake.
    precondition {
      condition     = !local.sources[each.key].is_arn || split(":", local.copy_from[each.key])[3] == local.region
      error_message = "Tenant ${each.key}: model_source ${each.value.model_source} is in Region ${split(":", local.copy_from[each.key])[3]}, but the profile is created in ${local.region}. Use the ARN of this Region, or just the model or profile id."
    }

    precondition {
      condition     = !local.sources[each.key].is_profile || split(":", local.copy_from[each.key])[4] == local.account_id
      error_message = "Tenant ${each.key}: the system-defined inference profile ARN must name this account (${local.account_id}), as Bedrock lists it in this account."
    }
  }
}

# Cost allocation tag activation is account-wide (payer level), so it is opt-in.
resource "aws_ce_cost_allocation_tag" "this" {
  for_each = var.activate_cost_allocation_tags ? toset(local.cost_tag_keys) : toset([])

  tag_key = each.key
  status  = "Active"

  # Billing offers a key for activation only once a resource carries it.
  depends_on = [aws_bedrock_inference_profile.this]
}
