data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id

  table_name = coalesce(var.table_name, "${var.name}-usage")

  # Per-caller metrics cost one custom metric each: published only when something reads them.
  caller_metrics_enabled = var.caller_metrics_enabled == null ? var.caller_alarms.enabled : var.caller_metrics_enabled

  # ---------------------------------------------------------------------------------------------
  # Registered callers. Keys are put in the canonical form the gate looks callers up by
  # (bedrock_guard.core.principals): the path-less user or role ARN, a session ARN reduced to its
  # role, or apikey:<id> unchanged. variables.tf has already refused anything else.
  # ---------------------------------------------------------------------------------------------
  iam_arn_regex     = "^arn:(?P<partition>aws(?:-[a-z]+)*):iam::(?P<account>[0-9]{12}):(?P<kind>user|role)/(?:[!-~]*/)?(?P<name>[A-Za-z0-9_+=,.@-]{1,128})$"
  session_arn_regex = "^arn:(?P<partition>aws(?:-[a-z]+)*):sts::(?P<account>[0-9]{12}):assumed-role/(?P<name>[A-Za-z0-9_+=,.@-]{1,128})/[A-Za-z0-9_+=,.@-]{2,64}$"

  caller_iam_parts     = { for key in keys(var.callers) : key => regex(local.iam_arn_regex, key) if can(regex(local.iam_arn_regex, key)) }
  caller_session_parts = { for key in keys(var.callers) : key => regex(local.session_arn_regex, key) if can(regex(local.session_arn_regex, key)) }

  caller_canonical = {
    for key in keys(var.callers) : key => try(
      "arn:${local.caller_iam_parts[key].partition}:iam::${local.caller_iam_parts[key].account}:${local.caller_iam_parts[key].kind}/${local.caller_iam_parts[key].name}",
      "arn:${local.caller_session_parts[key].partition}:iam::${local.caller_session_parts[key].account}:role/${local.caller_session_parts[key].name}",
      key,
    )
  }

  # Grouped by canonical principal so that two spellings of one principal (a role with its path
  # and one of its sessions, say) are caught by a precondition instead of fighting over one item.
  caller_keys_by_principal = { for key in keys(var.callers) : local.caller_canonical[key] => key... }

  registered_callers = {
    for principal, source_keys in local.caller_keys_by_principal :
    principal => merge(var.callers[source_keys[0]], { source_keys = source_keys })
  }

  # ---------------------------------------------------------------------------------------------
  # Model allowlist. A model_id with a cross-Region prefix (us., eu., ...) is a system inference
  # profile; its foundation model is the id after the prefix. A target is an inference profile
  # ARN priced (and, for IAM, resolved) as pricing_model.
  # ---------------------------------------------------------------------------------------------
  geo_prefix_regex = "^(?:us|us-gov|eu|apac|jp|au|ca|global)\\."

  alias_grants = {
    for alias, model in var.model_aliases : alias => {
      profile_arn = (
        model.target != null ? model.target :
        can(regex(local.geo_prefix_regex, model.model_id)) ? "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${model.model_id}" :
        null
      )
      foundation_model_id = replace(coalesce(model.pricing_model, model.model_id), "/${local.geo_prefix_regex}/", "")
      is_global           = startswith(model.target == null ? model.model_id : element(split("/", model.target), 1), "global.")
      # Without an explicit list the foundation model is granted in every Region, but only
      # through this alias's profile (bedrock:InferenceProfileArn condition in iam.tf).
      routes_to_regions = model.routes_to_regions != null ? model.routes_to_regions : ["*"]
    }
  }

  direct_model_arns = distinct([
    for alias, model in local.alias_grants :
    "arn:${local.partition}:bedrock:${local.region}::foundation-model/${model.foundation_model_id}"
    if model.profile_arn == null
  ])

  inference_profile_arns = distinct([
    for alias, model in local.alias_grants : model.profile_arn if model.profile_arn != null
  ])

  # Global profiles also route through the Region-less foundation-model ARN; a "*" Region
  # already matches it, so it is only added next to an explicit Region list.
  profile_model_arns = distinct(flatten([
    for alias, model in local.alias_grants : concat(
      [for region in model.routes_to_regions : "arn:${local.partition}:bedrock:${region}::foundation-model/${model.foundation_model_id}"],
      model.is_global && !contains(model.routes_to_regions, "*") ? ["arn:${local.partition}:bedrock:::foundation-model/${model.foundation_model_id}"] : [],
    ) if model.profile_arn != null
  ]))

  # ---------------------------------------------------------------------------------------------
  # Lambda environment: the contract of docs/contracts.md.
  # ---------------------------------------------------------------------------------------------
  # Plain model ids stay strings; profile targets become {"target", "pricing_model"} objects.
  model_aliases_json = jsonencode(merge(
    { for alias, model in var.model_aliases : alias => model.model_id if model.target == null },
    { for alias, model in var.model_aliases : alias => { target = model.target, pricing_model = model.pricing_model } if model.target != null },
  ))

  tier_limits_json = jsonencode({
    for tier, limits in var.tiers : tier => {
      monthly_tokens = limits.monthly_tokens
      daily_tokens   = limits.daily_tokens
      monthly_usd    = limits.monthly_usd
      daily_usd      = limits.daily_usd
    }
  })

  powertools_layer_arn = coalesce(
    var.powertools_layer_arn,
    "arn:${local.partition}:lambda:${local.region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:37",
  )
}
