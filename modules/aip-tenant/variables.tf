# Inputs of the per-tenant layer. Regular expressions here repeat the service limits (Bedrock
# profile names, descriptions and tag values; IAM ARNs) so a mistake fails at plan time with a
# message that names the tenant, not half-way through an apply.

variable "name" {
  description = "Name prefix of everything the module creates: profiles are <name>-<tenant>, alarms <alarm_name_prefix><name>-<tenant>-<metric> (the prefix once: not repeated when name already starts with it), the logging role <name>-bedrock-invocation-logging."
  type        = string
  default     = "bedrock-guard"

  validation {
    condition     = can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 32
    error_message = "name must be 1-32 lower-case letters and digits in hyphen-separated words (for example bedrock-guard): it prefixes Bedrock profile names, which allow no other characters."
  }
}

variable "tenants" {
  description = <<-EOT
    One application inference profile per tenant (the map key: lower-case words joined by
    hyphens, at most 31 characters). model_source is a foundation model id or ARN
    (anthropic.claude-3-haiku-20240307-v1:0) or a system-defined cross-Region profile id or ARN
    (us.anthropic.claude-3-5-haiku-20241022-v1:0), in this Region. pricing_model is the base model
    id the token gate prices the profile as (derived from model_source when null). cost_center,
    application_id and environment become the costCenter, applicationId and environment tags.
    alias names the profile in the token gate's MODEL_ALIASES_JSON (default: the tenant key).
    principals are the IAM user or role ARNs the alarm enforcer locks when an alarm of the
    tenant fires. alarms sets Sum-over-period thresholds on the profile's AWS/Bedrock
    InputTokenCount and OutputTokenCount. monthly_budget_usd adds an AWS Budgets cost budget
    filtered on the tenant's applicationId tag.
  EOT
  type = map(object({
    model_source   = string
    pricing_model  = optional(string)
    cost_center    = string
    application_id = string
    environment    = string
    description    = optional(string)
    alias          = optional(string)
    principals     = optional(list(string), [])
    alarms = optional(object({
      input_tokens       = optional(number)
      output_tokens      = optional(number)
      period_seconds     = optional(number, 3600)
      evaluation_periods = optional(number, 1)
    }))
    monthly_budget_usd = optional(number)
  }))
  default = {}

  validation {
    condition     = alltrue([for tenant in keys(var.tenants) : can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", tenant)) && length(tenant) <= 31])
    error_message = "Tenant keys must be 1-31 lower-case letters and digits in hyphen-separated words (they become part of the profile name). Offending: ${join(", ", [for tenant in keys(var.tenants) : tenant if !(can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", tenant)) && length(tenant) <= 31)])}."
  }

  # Accepted model sources, in order: a foundation model ARN, a system-defined (cross-Region)
  # profile ARN, a cross-Region profile id (geography.provider.model), a foundation model id
  # (provider.model, not starting with a geography). The geography prefixes match
  # bedrock_guard.core.pricing.GEO_PREFIXES (a test keeps them equal).
  validation {
    condition = alltrue([for tenant in values(var.tenants) : (
      can(regex("^arn:aws(-[a-z]+)*:bedrock:[a-z0-9-]+::foundation-model/[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) ||
      can(regex("^arn:aws(-[a-z]+)*:bedrock:[a-z0-9-]+:[0-9]{12}:inference-profile/(us-gov|us|eu|apac|jp|au|ca|global)\\.[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) ||
      can(regex("^(us-gov|us|eu|apac|jp|au|ca|global)\\.[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) ||
      (can(regex("^[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) && !can(regex("^(us-gov|us|eu|apac|jp|au|ca|global)\\.", tenant.model_source)))
    )])
    error_message = "model_source must be a foundation model id or ARN (anthropic.claude-3-haiku-20240307-v1:0, arn:aws:bedrock:us-east-1::foundation-model/...) or a system-defined cross-Region inference profile id or ARN (us.anthropic.claude-3-5-haiku-20241022-v1:0, arn:aws:bedrock:us-east-1:111122223333:inference-profile/us....). An application inference profile cannot be the source of another. Offending: ${join(", ", [for name, tenant in var.tenants : name if !(can(regex("^arn:aws(-[a-z]+)*:bedrock:[a-z0-9-]+::foundation-model/[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) || can(regex("^arn:aws(-[a-z]+)*:bedrock:[a-z0-9-]+:[0-9]{12}:inference-profile/(us-gov|us|eu|apac|jp|au|ca|global)\\.[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) || can(regex("^(us-gov|us|eu|apac|jp|au|ca|global)\\.[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) || (can(regex("^[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.model_source)) && !can(regex("^(us-gov|us|eu|apac|jp|au|ca|global)\\.", tenant.model_source))))])}."
  }

  validation {
    condition     = alltrue([for tenant in values(var.tenants) : tenant.pricing_model == null ? true : can(regex("^[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.pricing_model)) && !can(regex("^(us-gov|us|eu|apac|jp|au|ca|global)\\.", tenant.pricing_model))])
    error_message = "pricing_model must be a base foundation model id such as anthropic.claude-3-5-sonnet-20241022-v2:0 (no ARN, no us./eu./... cross-Region prefix), or null to derive it from model_source. Offending: ${join(", ", [for name, tenant in var.tenants : name if tenant.pricing_model == null ? false : !(can(regex("^[a-z0-9-]+\\.[A-Za-z0-9.:-]+$", tenant.pricing_model)) && !can(regex("^(us-gov|us|eu|apac|jp|au|ca|global)\\.", tenant.pricing_model)))])}."
  }

  # Bedrock's tag value pattern is [a-zA-Z0-9\s._:/=+@-]*, up to 256 characters.
  validation {
    condition = alltrue(flatten([for tenant in values(var.tenants) : [
      for value in [tenant.cost_center, tenant.application_id, tenant.environment] :
      can(regex("^[a-zA-Z0-9 ._:/=+@-]{1,256}$", value)) && !startswith(lower(value), "aws:")
    ]]))
    error_message = "cost_center, application_id and environment must be 1-256 characters of letters, digits, spaces and _ . : / = + @ - (Bedrock's tag value rules), not starting with aws:. Offending tenants: ${join(", ", [for name, tenant in var.tenants : name if !alltrue([for value in [tenant.cost_center, tenant.application_id, tenant.environment] : can(regex("^[a-zA-Z0-9 ._:/=+@-]{1,256}$", value)) && !startswith(lower(value), "aws:")])])}."
  }

  # Bedrock's description pattern: ([0-9a-zA-Z:.][ _-]?)+, at most 200 characters.
  validation {
    condition     = alltrue([for tenant in values(var.tenants) : tenant.description == null ? true : can(regex("^([0-9a-zA-Z:.][ _-]?)+$", tenant.description)) && length(tenant.description) <= 200])
    error_message = "description must be at most 200 letters, digits, colons and dots, each optionally followed by one space, underscore or hyphen (Bedrock's rule: no commas, no brackets, no double spaces). Offending: ${join(", ", [for name, tenant in var.tenants : name if tenant.description == null ? false : !(can(regex("^([0-9a-zA-Z:.][ _-]?)+$", tenant.description)) && length(tenant.description) <= 200)])}."
  }

  # The token gate's alias rule (modules/token-gate model_aliases).
  validation {
    condition     = alltrue([for name, tenant in var.tenants : can(regex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", coalesce(tenant.alias, name)))])
    error_message = "alias must be 1-64 letters, digits, dots, colons, underscores and hyphens, starting with a letter or digit (the token gate's alias rule). Offending: ${join(", ", [for name, tenant in var.tenants : name if !can(regex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", coalesce(tenant.alias, name)))])}."
  }

  validation {
    condition     = length(distinct([for name, tenant in var.tenants : coalesce(tenant.alias, name)])) == length(var.tenants)
    error_message = "Two tenants share a model alias (an alias defaults to the tenant key): each alias must name one profile."
  }

  # Principals are written comma-separated into one alarm tag, so a comma in a name would split
  # it; service-linked and reserved roles are never lockable, so naming them is a mistake.
  validation {
    condition = alltrue(flatten([for tenant in values(var.tenants) : [
      for principal in tenant.principals :
      can(regex("^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(user|role)/([A-Za-z0-9+=.@_-]+/)*[A-Za-z0-9+=.@_-]{1,64}$", principal)) && !can(regex(":role/aws-(service-role|reserved)/", principal))
    ]]))
    error_message = "principals must be IAM user or role ARNs (arn:<partition>:iam::<account>:user/<name> or role/<path>/<name>; names of letters, digits and + = . @ _ -, no commas), not assumed-role sessions, service-linked or aws-reserved roles. Offending tenants: ${join(", ", [for name, tenant in var.tenants : name if !alltrue([for principal in tenant.principals : can(regex("^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(user|role)/([A-Za-z0-9+=.@_-]+/)*[A-Za-z0-9+=.@_-]{1,64}$", principal)) && !can(regex(":role/aws-(service-role|reserved)/", principal))])])}."
  }

  # A CloudWatch tag value holds at most 256 characters.
  validation {
    condition     = alltrue([for tenant in values(var.tenants) : length(join(",", distinct(tenant.principals))) <= 256])
    error_message = "A tenant's principals, joined with commas, must fit in one 256-character alarm tag value (about four role ARNs). Give the tenant's callers a shared role and list that role instead. Offending: ${join(", ", [for name, tenant in var.tenants : name if length(join(",", distinct(tenant.principals))) > 256])}."
  }

  validation {
    condition = alltrue([for tenant in values(var.tenants) : tenant.alarms == null ? true : (
      (tenant.alarms.input_tokens != null || tenant.alarms.output_tokens != null) &&
      alltrue([for threshold in [tenant.alarms.input_tokens, tenant.alarms.output_tokens] : threshold == null ? true : threshold > 0])
    )])
    error_message = "alarms needs input_tokens, output_tokens or both, each a positive number of tokens per period (leave alarms null for no alarm). Offending: ${join(", ", [for name, tenant in var.tenants : name if tenant.alarms == null ? false : !((tenant.alarms.input_tokens != null || tenant.alarms.output_tokens != null) && alltrue([for threshold in [tenant.alarms.input_tokens, tenant.alarms.output_tokens] : threshold == null ? true : threshold > 0]))])}."
  }

  # CloudWatch: a period of 60 seconds or a multiple of it, and at most one day evaluated.
  validation {
    condition = alltrue([for tenant in values(var.tenants) : tenant.alarms == null ? true : (
      tenant.alarms.period_seconds >= 60 && tenant.alarms.period_seconds % 60 == 0 &&
      tenant.alarms.evaluation_periods >= 1 && floor(tenant.alarms.evaluation_periods) == tenant.alarms.evaluation_periods &&
      tenant.alarms.period_seconds * tenant.alarms.evaluation_periods <= 86400
    )])
    error_message = "alarms.period_seconds must be a multiple of 60 (at least 60), evaluation_periods a whole number of at least 1, and period_seconds * evaluation_periods at most 86400 (CloudWatch evaluates at most one day). Offending: ${join(", ", [for name, tenant in var.tenants : name if tenant.alarms == null ? false : !(tenant.alarms.period_seconds >= 60 && tenant.alarms.period_seconds % 60 == 0 && tenant.alarms.evaluation_periods >= 1 && floor(tenant.alarms.evaluation_periods) == tenant.alarms.evaluation_periods && tenant.alarms.period_seconds * tenant.alarms.evaluation_periods <= 86400)])}."
  }

  validation {
    condition     = alltrue([for tenant in values(var.tenants) : tenant.alarms == null || length(tenant.principals) > 0])
    error_message = "A tenant with alarms needs principals: the alarm enforcer locks the principals named on the alarm and would otherwise have no one to lock. Offending: ${join(", ", [for name, tenant in var.tenants : name if tenant.alarms != null && length(tenant.principals) == 0])}."
  }

  validation {
    condition     = alltrue([for tenant in values(var.tenants) : tenant.monthly_budget_usd == null ? true : tenant.monthly_budget_usd > 0])
    error_message = "monthly_budget_usd must be a positive amount of USD, or null for no budget. Offending: ${join(", ", [for name, tenant in var.tenants : name if tenant.monthly_budget_usd == null ? false : tenant.monthly_budget_usd <= 0])}."
  }

  # A tenant budget filters on applicationId=<application_id>: two budgeted tenants with the same
  # application_id would each measure the other's spend too.
  validation {
    condition     = length(distinct([for tenant in values(var.tenants) : tenant.application_id if tenant.monthly_budget_usd != null])) == length([for tenant in values(var.tenants) : tenant if tenant.monthly_budget_usd != null])
    error_message = "Tenants with monthly_budget_usd must have distinct application_id values: each budget is filtered on the applicationId tag."
  }
}

variable "tags" {
  description = "Tags for every taggable resource the module creates. The profile's costCenter, applicationId and environment tags override keys of the same name. Values must satisfy Bedrock's tag rules (letters, digits, spaces and _ . : / = + @ -)."
  type        = map(string)
  default     = {}

  validation {
    condition = alltrue([for key, value in var.tags : (
      can(regex("^[a-zA-Z0-9 ._:/=+@-]{1,128}$", key)) && can(regex("^[a-zA-Z0-9 ._:/=+@-]{0,256}$", value)) && !startswith(lower(key), "aws:")
    )])
    error_message = "Tag keys must be 1-128 and values 0-256 letters, digits, spaces and _ . : / = + @ - (Bedrock accepts no other characters on the profiles), and keys must not start with aws:."
  }
}

variable "activate_cost_allocation_tags" {
  description = "Activate costCenter, applicationId and environment as cost allocation tags (aws_ce_cost_allocation_tag). Account-wide, and only possible from a standalone account or an organization's management (payer) account; a key can be activated only after Billing has seen it on a resource, up to 24 hours after the first profile is tagged. Destroying sets the keys back to Inactive."
  type        = bool
  default     = false
}

variable "alarm_topic_arn" {
  description = "SNS topic every tenant alarm notifies on ALARM and on OK: the alarm enforcer's sns_topic_arn output. Required when any tenant has alarms."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:<partition>:sns:<region>:<account>:<name>), normally module.alarm_enforcer.sns_topic_arn."
  }
}

variable "alarm_name_prefix" {
  description = "Prepended to every alarm name, unless name already starts with it. Set it to the alarm enforcer's alarm_name_prefix when that is not empty: the enforcer's topic and key accept only alarms whose names start with it."
  type        = string
  default     = ""

  validation {
    condition     = length(var.alarm_name_prefix) <= 180 && !strcontains(var.alarm_name_prefix, "*") && !strcontains(var.alarm_name_prefix, "?")
    error_message = "alarm_name_prefix must be at most 180 characters and contain no * or ? (the enforcer appends the wildcard)."
  }
}

variable "principal_tag_key" {
  description = "Alarm tag holding the tenant's principals as a comma-separated list of ARNs. Must equal the alarm enforcer's principal_tag_key (its PRINCIPAL_TAG_KEY)."
  type        = string
  default     = "bedrock-guard:principals"

  validation {
    condition     = can(regex("^[a-zA-Z0-9 ._:/=+@-]{1,128}$", var.principal_tag_key)) && !startswith(lower(var.principal_tag_key), "aws:")
    error_message = "principal_tag_key must be a tag key of 1-128 letters, digits, spaces and _ . : / = + @ -, not starting with aws:."
  }
}

variable "metric_model_id_dimension" {
  description = "Which value of the profile the tenant alarms use as the AWS/Bedrock ModelId dimension: profile_id (the id at the end of the profile ARN; what AWS samples query) or profile_arn. Check with `aws cloudwatch list-metrics --namespace AWS/Bedrock --metric-name InputTokenCount` after the first call (see README)."
  type        = string
  default     = "profile_id"

  validation {
    condition     = contains(["profile_id", "profile_arn"], var.metric_model_id_dimension)
    error_message = "metric_model_id_dimension must be profile_id or profile_arn."
  }
}

variable "invocation_logging" {
  description = <<-EOT
    Bedrock model invocation logging to CloudWatch Logs, plus saved Logs Insights queries.
    Account-wide per Region: only one configuration (one environment) per account and Region may
    enable it, or each apply overwrites the other's. log_group_name defaults to
    /aws/bedrock/<name>/model-invocations; kms_key_arn null creates a key. Metadata only by
    default: every record still carries the caller, model, operation, request id, token counts and
    request metadata (what the usage meter reads), but no prompt or completion; text, image,
    embedding and video data are delivered only when their *_data_delivery_enabled is true.
  EOT
  type = object({
    enabled                         = optional(bool, false)
    log_group_name                  = optional(string)
    retention_in_days               = optional(number, 365)
    kms_key_arn                     = optional(string)
    kms_key_deletion_window_in_days = optional(number, 30)
    text_data_delivery_enabled      = optional(bool, false)
    image_data_delivery_enabled     = optional(bool, false)
    embedding_data_delivery_enabled = optional(bool, false)
    video_data_delivery_enabled     = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.invocation_logging.log_group_name == null || can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", coalesce(var.invocation_logging.log_group_name, "-")))
    error_message = "invocation_logging.log_group_name must be 1-512 characters of letters, digits and . - _ / #."
  }

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.invocation_logging.retention_in_days)
    error_message = "invocation_logging.retention_in_days must be a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days."
  }

  validation {
    condition     = var.invocation_logging.kms_key_arn == null || can(regex("^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.invocation_logging.kms_key_arn, "-")))
    error_message = "invocation_logging.kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>) whose policy lets logs.<region>.amazonaws.com use it, or null to create one."
  }

  validation {
    condition     = var.invocation_logging.kms_key_deletion_window_in_days >= 7 && var.invocation_logging.kms_key_deletion_window_in_days <= 30
    error_message = "invocation_logging.kms_key_deletion_window_in_days must be between 7 and 30."
  }
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the IAM role the module creates (the role Bedrock assumes to write invocation logs), or null."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws(-[a-z]+)*:iam::([0-9]{12}|aws):policy/.+$", coalesce(var.permissions_boundary, "-")))
    error_message = "permissions_boundary must be an IAM managed policy ARN (arn:<partition>:iam::<account>:policy/<name>), or null."
  }
}

variable "budget_settings" {
  description = "How the per-tenant budgets (tenants with monthly_budget_usd) notify: sns_topic_arn null makes modules/budget create a topic (KMS-encrypted, Budgets allowed to publish), else an existing topic Budgets may publish to; subscriber_email_addresses get every notification; notifications null keeps modules/budget's defaults (ACTUAL 50, 80, 90, 100 and FORECASTED 100 percent); restrict_to_bedrock also filters each budget on the Bedrock service names, so other resources tagged with the same applicationId do not count."
  type = object({
    sns_topic_arn              = optional(string)
    subscriber_email_addresses = optional(list(string), [])
    notifications = optional(list(object({
      threshold           = number
      notification_type   = optional(string, "ACTUAL")
      threshold_type      = optional(string, "PERCENTAGE")
      comparison_operator = optional(string, "GREATER_THAN")
    })))
    restrict_to_bedrock = optional(bool, true)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.budget_settings.sns_topic_arn == null || can(regex("^arn:aws(-[a-z]+)*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", coalesce(var.budget_settings.sns_topic_arn, "-")))
    error_message = "budget_settings.sns_topic_arn must be a standard SNS topic ARN whose policy lets budgets.amazonaws.com publish (Budgets cannot publish to FIFO topics), or null to create one."
  }

  validation {
    condition     = length(var.budget_settings.subscriber_email_addresses) <= 10 && alltrue([for address in var.budget_settings.subscriber_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", address))])
    error_message = "budget_settings.subscriber_email_addresses must be at most 10 email addresses (Budgets' limit per notification)."
  }

  validation {
    condition = var.budget_settings.notifications == null || try(alltrue([
      for notification in var.budget_settings.notifications :
      contains(["ACTUAL", "FORECASTED"], notification.notification_type) &&
      contains(["PERCENTAGE", "ABSOLUTE_VALUE"], notification.threshold_type) &&
      contains(["GREATER_THAN", "LESS_THAN", "EQUAL_TO"], notification.comparison_operator) &&
      notification.threshold > 0
    ]) && length(var.budget_settings.notifications) <= 10, false)
    error_message = "budget_settings.notifications: at most 10, each with notification_type ACTUAL or FORECASTED, threshold_type PERCENTAGE or ABSOLUTE_VALUE, comparison_operator GREATER_THAN, LESS_THAN or EQUAL_TO, and a threshold > 0."
  }
}
