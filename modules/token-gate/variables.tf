# -------------------------------------------------------------------------------------------------
# Naming and tagging
# -------------------------------------------------------------------------------------------------

variable "name" {
  description = "Name of the Lambda function; also the prefix of the role, the log group (/aws/lambda/<name>), the default table name and the alarm names."
  type        = string
  default     = "bedrock-token-gate"

  validation {
    # 59 leaves room for the "-role" suffix within IAM's 64-character role names.
    condition     = can(regex("^[A-Za-z0-9_-]{1,59}$", var.name))
    error_message = "The name must be 1-59 characters of letters, digits, hyphens and underscores (Lambda function names allow no other characters; the role name adds a \"-role\" suffix)."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource (table, function, role, log group, alarms). Environments should also set provider default_tags."
  type        = map(string)
  default     = {}
}

# -------------------------------------------------------------------------------------------------
# DynamoDB table: registry, usage counters and lock ledger (keys.py)
# -------------------------------------------------------------------------------------------------

variable "table_name" {
  description = "Name of the DynamoDB table holding the caller registry, the usage counters and the lock ledger. Null means \"<name>-usage\"."
  type        = string
  default     = null

  validation {
    condition     = var.table_name == null ? true : can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "The table_name must be 3-255 characters of letters, digits, underscores, hyphens and dots (DynamoDB table naming rules), or null for the default."
  }
}

variable "table_deletion_protection" {
  description = "Turn on DynamoDB deletion protection. The table is the budget ledger (and the enforcer's lock ledger), so keep this on outside throw-away environments."
  type        = bool
  default     = true
}

variable "table_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the table's encryption at rest. Null uses the AWS managed key alias/aws/dynamodb. The key policy must let the function's role use the key through DynamoDB."
  type        = string
  default     = null

  validation {
    condition     = var.table_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.table_kms_key_arn))
    error_message = "The table_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>); aliases cannot be scoped in IAM, so pass the key ARN."
  }
}

# -------------------------------------------------------------------------------------------------
# Budgets: tiers and registered callers
# -------------------------------------------------------------------------------------------------

variable "tiers" {
  description = "Budget tiers: tier name => limits per UTC calendar month and day, in tokens (input + output) and in USD. An unset (null) limit means no limit on that window."
  type = map(object({
    monthly_tokens = optional(number)
    daily_tokens   = optional(number)
    monthly_usd    = optional(number)
    daily_usd      = optional(number)
  }))
  default = {
    basic = {
      monthly_tokens = 1000000
      daily_tokens   = 100000
      monthly_usd    = 10
      daily_usd      = 1
    }
    professional = {
      monthly_tokens = 10000000
      daily_tokens   = 1000000
      monthly_usd    = 100
      daily_usd      = 10
    }
    enterprise = {
      monthly_usd = 1000
      daily_usd   = 100
    }
  }

  validation {
    condition     = length(var.tiers) > 0
    error_message = "Define at least one tier in tiers: without one, no caller can ever be served."
  }

  validation {
    condition     = alltrue([for tier in keys(var.tiers) : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", tier)) && tier != "none"])
    error_message = "Tier names must be 1-63 characters of lowercase letters, digits, hyphens and underscores, starting with a letter or digit; \"none\" is reserved for default_tier. Offending: ${join(", ", [for tier in keys(var.tiers) : tier if !(can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", tier)) && tier != "none")])}."
  }

  validation {
    condition = alltrue(flatten([
      for tier, limits in var.tiers : [
        for value in [limits.monthly_tokens, limits.daily_tokens, limits.monthly_usd, limits.daily_usd] : value == null ? true : value >= 0
      ]
    ]))
    error_message = "Every tier limit must be a number >= 0 (or null for no limit). Offending tiers: ${join(", ", [for tier, limits in var.tiers : tier if anytrue([for value in [limits.monthly_tokens, limits.daily_tokens, limits.monthly_usd, limits.daily_usd] : value == null ? false : value < 0])])}."
  }

  validation {
    condition = alltrue(flatten([
      for tier, limits in var.tiers : [
        for value in [limits.monthly_tokens, limits.daily_tokens] : value == null ? true : floor(value) == value
      ]
    ]))
    error_message = "Token limits (monthly_tokens, daily_tokens) must be whole numbers. Offending tiers: ${join(", ", [for tier, limits in var.tiers : tier if anytrue([for value in [limits.monthly_tokens, limits.daily_tokens] : value == null ? false : floor(value) != value])])}."
  }

  validation {
    condition = alltrue([
      for tier, limits in var.tiers : alltrue([
        limits.daily_tokens == null || limits.monthly_tokens == null ? true : limits.daily_tokens <= limits.monthly_tokens,
        limits.daily_usd == null || limits.monthly_usd == null ? true : limits.daily_usd <= limits.monthly_usd,
      ])
    ])
    error_message = "A daily limit above the monthly limit of the same tier can never be reached; lower it or raise the monthly limit. Offending tiers: ${join(", ", [for tier, limits in var.tiers : tier if(limits.daily_tokens == null || limits.monthly_tokens == null ? false : limits.daily_tokens > limits.monthly_tokens) || (limits.daily_usd == null || limits.monthly_usd == null ? false : limits.daily_usd > limits.monthly_usd)])}."
  }
}

variable "default_tier" {
  description = "Tier applied to callers that are not registered in the table, or \"none\" to refuse them with 403. Must be a key of tiers (checked at plan time)."
  type        = string
  default     = "none"

  validation {
    condition     = var.default_tier == "none" || can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.default_tier))
    error_message = "The default_tier must be \"none\" or the name of one of the tiers."
  }
}

variable "callers" {
  description = <<-EOT
    Registered callers, written to the table as CALLER#<principal> / PROFILE items. Key: an IAM user
    or role ARN (with or without path), an assumed-role session ARN (registers its role), or
    apikey:<API Gateway API key id>. Keys are stored in canonical form (path-less role or user ARN),
    which is what the gate looks callers up by. tenant, cost_center, application and environment
    become metric dimension values. alarms = false leaves a caller out of caller_alarms.
  EOT
  type = map(object({
    tier        = string
    tenant      = string
    cost_center = string
    application = string
    environment = optional(string)
    alarms      = optional(bool, true)
  }))
  default = {}

  validation {
    condition     = alltrue([for key in keys(var.callers) : !can(regex("^arn:[^:]+:iam::[0-9]{12}:group/", key))])
    error_message = "IAM groups cannot be callers (requests are signed by users and roles, never by a group): register each member user, or the role they assume. Offending: ${join(", ", [for key in keys(var.callers) : key if can(regex("^arn:[^:]+:iam::[0-9]{12}:group/", key))])}."
  }

  validation {
    condition     = alltrue([for key in keys(var.callers) : !can(regex("^arn:[^:]+:iam::[0-9]{12}:root$", key))])
    error_message = "The account root cannot be a registered caller: call Bedrock through a user or role and register that instead. Offending: ${join(", ", [for key in keys(var.callers) : key if can(regex("^arn:[^:]+:iam::[0-9]{12}:root$", key))])}."
  }

  validation {
    condition     = alltrue([for key in keys(var.callers) : !can(regex("^arn:[^:]+:sts::[0-9]{12}:federated-user/", key))])
    error_message = "Federated-user sessions cannot be registered (they have no lasting IAM identity to budget): register the role your federation assumes instead. Offending: ${join(", ", [for key in keys(var.callers) : key if can(regex("^arn:[^:]+:sts::[0-9]{12}:federated-user/", key))])}."
  }

  validation {
    condition     = alltrue([for key in keys(var.callers) : !can(regex("^arn:[^:]+:(iam::[0-9]{12}:role/aws-service-role/|iam::[0-9]{12}:role/(.*/)?AWSServiceRoleFor|sts::[0-9]{12}:assumed-role/AWSServiceRoleFor)", key))])
    error_message = "Service-linked roles are managed by AWS services and cannot be budgeted callers: register the user or role that makes the request. Offending: ${join(", ", [for key in keys(var.callers) : key if can(regex("^arn:[^:]+:(iam::[0-9]{12}:role/aws-service-role/|iam::[0-9]{12}:role/(.*/)?AWSServiceRoleFor|sts::[0-9]{12}:assumed-role/AWSServiceRoleFor)", key))])}."
  }

  validation {
    # Keys already refused above with a specific message are not repeated here.
    condition = alltrue([
      for key in keys(var.callers) :
      can(regex("^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(user|role)/([!-~]*/)?[A-Za-z0-9_+=,.@-]{1,128}$", key)) ||
      can(regex("^arn:aws(-[a-z]+)*:sts::[0-9]{12}:assumed-role/[A-Za-z0-9_+=,.@-]{1,128}/[A-Za-z0-9_+=,.@-]{2,64}$", key)) ||
      can(regex("^apikey:[A-Za-z0-9]{1,128}$", key)) ||
      can(regex("^arn:[^:]+:(iam::[0-9]{12}:(group/|root$)|sts::[0-9]{12}:federated-user/)", key))
    ])
    error_message = "Caller keys must be arn:<partition>:iam::<12-digit account>:user/<name> or :role/[<path>/]<name>, arn:<partition>:sts::<account>:assumed-role/<role>/<session>, or apikey:<alphanumeric API key id>, with no surrounding spaces. Malformed: ${join(", ", [for key in keys(var.callers) : key if !(can(regex("^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(user|role)/([!-~]*/)?[A-Za-z0-9_+=,.@-]{1,128}$", key)) || can(regex("^arn:aws(-[a-z]+)*:sts::[0-9]{12}:assumed-role/[A-Za-z0-9_+=,.@-]{1,128}/[A-Za-z0-9_+=,.@-]{2,64}$", key)) || can(regex("^apikey:[A-Za-z0-9]{1,128}$", key)) || can(regex("^arn:[^:]+:(iam::[0-9]{12}:(group/|root$)|sts::[0-9]{12}:federated-user/)", key)))])}."
  }

  validation {
    condition     = alltrue([for caller in values(var.callers) : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", caller.tier))])
    error_message = "Each caller's tier must name one of the tiers (lowercase letters, digits, hyphens, underscores); whether the tier exists is checked at plan time. Offending callers: ${join(", ", [for key, caller in var.callers : key if !can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", caller.tier))])}."
  }

  validation {
    # These values become CloudWatch dimension values and Cost Explorer-style labels: bounded,
    # printable, no control characters.
    condition = alltrue(flatten([
      for caller in values(var.callers) : [
        for value in [caller.tenant, caller.cost_center, caller.application, caller.environment] :
        value == null ? true : can(regex("^[A-Za-z0-9][A-Za-z0-9 ._:/@+=-]{0,127}$", value))
      ]
    ]))
    error_message = "Caller tenant, cost_center, application and environment must be 1-128 characters of letters, digits, spaces and . _ : / @ + = -, starting with a letter or digit. Offending callers: ${join(", ", [for key, caller in var.callers : key if anytrue([for value in [caller.tenant, caller.cost_center, caller.application, caller.environment] : value == null ? false : !can(regex("^[A-Za-z0-9][A-Za-z0-9 ._:/@+=-]{0,127}$", value))])])}."
  }
}

variable "api_key_callers" {
  description = <<-EOT
    Callers that API Gateway identifies by API key only (no IAM authorisation), keyed by a name
    known at plan time. api_key_id may be unknown until apply, so it can come straight from the
    usage-plan module's api_key_ids output; the registry item is CALLER#apikey:<api_key_id>.
    The other fields mean what they mean in callers.
  EOT
  type = map(object({
    api_key_id  = string
    tier        = string
    tenant      = string
    cost_center = string
    application = string
    environment = optional(string)
    alarms      = optional(bool, true)
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.api_key_callers) : can(regex("^[A-Za-z0-9_.-]{1,64}$", name))])
    error_message = "api_key_callers names must be 1-64 letters, digits, dots, hyphens or underscores (they label alarms). Offending: ${join(", ", [for name in keys(var.api_key_callers) : name if !can(regex("^[A-Za-z0-9_.-]{1,64}$", name))])}."
  }

  validation {
    condition = alltrue(flatten([
      for caller in values(var.api_key_callers) : [
        for value in [caller.tenant, caller.cost_center, caller.application, caller.environment] :
        value == null ? true : can(regex("^[A-Za-z0-9][A-Za-z0-9 ._:/@+=-]{0,127}$", value))
      ]
    ]))
    error_message = "api_key_callers tenant, cost_center, application and environment must be 1-128 characters of letters, digits, spaces and . _ : / @ + = -, starting with a letter or digit. Offending: ${join(", ", [for name, caller in var.api_key_callers : name if anytrue([for value in [caller.tenant, caller.cost_center, caller.application, caller.environment] : value == null ? false : !can(regex("^[A-Za-z0-9][A-Za-z0-9 ._:/@+=-]{0,127}$", value))])])}."
  }
}

# -------------------------------------------------------------------------------------------------
# Models and prices
# -------------------------------------------------------------------------------------------------

variable "model_aliases" {
  description = <<-EOT
    The model allowlist: alias (what requests name) => exactly one of
    model_id (a foundation model id such as anthropic.claude-3-haiku-20240307-v1:0, or a
    cross-Region system profile id such as us.anthropic.claude-3-5-haiku-20241022-v1:0), or
    target (an inference-profile or application-inference-profile ARN in this Region) with
    pricing_model (the base model id it is priced as). routes_to_regions lists the Regions a
    profile routes to, for IAM; null grants the foundation model in every Region but only through
    that profile. Each alias is granted bedrock:InvokeModel and nothing else.
  EOT
  type = map(object({
    model_id          = optional(string)
    target            = optional(string)
    pricing_model     = optional(string)
    routes_to_regions = optional(list(string))
  }))
  default = {
    "claude-3-haiku" = { model_id = "anthropic.claude-3-haiku-20240307-v1:0" }
    "nova-micro"     = { model_id = "amazon.nova-micro-v1:0" }
    "nova-lite"      = { model_id = "amazon.nova-lite-v1:0" }
  }

  validation {
    condition     = length(var.model_aliases) > 0
    error_message = "The model_aliases allowlist must name at least one model: the gate refuses every model that is not in it."
  }

  validation {
    condition     = alltrue([for alias in keys(var.model_aliases) : can(regex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", alias))])
    error_message = "Model aliases must be 1-64 characters of letters, digits, dots, colons, underscores and hyphens, starting with a letter or digit (they are metric dimension values). Offending: ${join(", ", [for alias in keys(var.model_aliases) : alias if !can(regex("^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$", alias))])}."
  }

  validation {
    condition     = alltrue([for model in values(var.model_aliases) : (model.model_id == null) != (model.target == null)])
    error_message = "Each model alias needs exactly one of model_id or target. Offending: ${join(", ", [for alias, model in var.model_aliases : alias if(model.model_id == null) == (model.target == null)])}."
  }

  validation {
    condition     = alltrue([for model in values(var.model_aliases) : model.model_id == null ? true : can(regex("^[a-z0-9-]+\\.[A-Za-z0-9._:-]+$", model.model_id))])
    error_message = "A model_id must be a Bedrock model id such as anthropic.claude-3-haiku-20240307-v1:0 or us.amazon.nova-lite-v1:0 (not an ARN: use target for profile ARNs). Offending: ${join(", ", [for alias, model in var.model_aliases : alias if model.model_id == null ? false : !can(regex("^[a-z0-9-]+\\.[A-Za-z0-9._:-]+$", model.model_id))])}."
  }

  validation {
    condition     = alltrue([for model in values(var.model_aliases) : model.target == null ? true : can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:(application-inference-profile|inference-profile)/[A-Za-z0-9._:-]+$", model.target))])
    error_message = "A target must be an inference profile ARN: arn:<partition>:bedrock:<region>:<account>:application-inference-profile/<id> or :inference-profile/<id>. Offending: ${join(", ", [for alias, model in var.model_aliases : alias if model.target == null ? false : !can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:(application-inference-profile|inference-profile)/[A-Za-z0-9._:-]+$", model.target))])}."
  }

  validation {
    condition     = alltrue([for model in values(var.model_aliases) : (model.target != null) == (model.pricing_model != null)])
    error_message = "pricing_model is required with target (an inference profile is priced as its base model) and not allowed with model_id (the id itself is priced). Offending: ${join(", ", [for alias, model in var.model_aliases : alias if(model.target != null) != (model.pricing_model != null)])}."
  }

  validation {
    condition     = alltrue([for model in values(var.model_aliases) : model.pricing_model == null ? true : can(regex("^[a-z0-9-]+\\.[A-Za-z0-9._:-]+$", model.pricing_model))])
    error_message = "A pricing_model must be a base model id such as anthropic.claude-3-5-sonnet-20241022-v2:0."
  }

  validation {
    # A plain foundation model is invoked in this Region only; routing lists belong to profiles.
    condition     = alltrue([for model in values(var.model_aliases) : model.routes_to_regions == null ? true : (model.target != null || can(regex("^(us|us-gov|eu|apac|jp|au|ca|global)\\.", coalesce(model.model_id, "-"))))])
    error_message = "routes_to_regions only applies to inference profiles (a target, or a model_id with a cross-Region prefix such as us. or eu.). Offending: ${join(", ", [for alias, model in var.model_aliases : alias if model.routes_to_regions != null && model.target == null && !can(regex("^(us|us-gov|eu|apac|jp|au|ca|global)\\.", coalesce(model.model_id, "-")))])}."
  }

  validation {
    condition     = alltrue([for model in values(var.model_aliases) : model.routes_to_regions == null ? true : length(model.routes_to_regions) > 0 && alltrue([for region in model.routes_to_regions : can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", region))])])
    error_message = "routes_to_regions must be a non-empty list of Region codes such as us-east-1 (or null to allow every Region through the profile)."
  }
}

variable "pricing_json" {
  description = "Optional PRICING_JSON for the gate: a JSON object overriding the built-in per-1K-token prices (schema defined by bedrock_guard's pricing). Null keeps the built-in table."
  type        = string
  default     = null

  validation {
    condition     = var.pricing_json == null ? true : can(keys(jsondecode(var.pricing_json)))
    error_message = "The pricing_json must be a JSON object (for example jsonencode({...})), or null."
  }
}

variable "bedrock_endpoint_url" {
  description = "Optional BEDROCK_ENDPOINT_URL: an alternative bedrock-runtime endpoint (a VPC interface endpoint DNS name, for example). Null uses the Region's public endpoint."
  type        = string
  default     = null

  validation {
    condition     = var.bedrock_endpoint_url == null ? true : can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?(/.*)?$", var.bedrock_endpoint_url))
    error_message = "The bedrock_endpoint_url must be an https:// URL, or null."
  }
}

variable "gate_settings" {
  description = <<-EOT
    Optional runtime settings of the gate; a null field is left out of the environment, so the
    code's default applies (bedrock_guard.gate.config). bedrock_read_timeout_seconds
    (BEDROCK_READ_TIMEOUT_SECONDS, default 25, 1-900, below lambda_timeout): how long one Bedrock
    attempt may wait for an answer. bedrock_max_attempts (BEDROCK_MAX_ATTEMPTS, default 2, 1-5):
    attempts per request, retries included. max_output_tokens (MAX_OUTPUT_TOKENS, default 4096):
    the largest max_tokens a request may ask for, and so the largest output reserved.
    default_max_tokens (DEFAULT_MAX_TOKENS, default 512 or max_output_tokens if lower): used when
    a request names none. max_request_bytes (MAX_REQUEST_BYTES, default 262144, 1024-6291456): the
    largest request body accepted.
  EOT
  type = object({
    bedrock_read_timeout_seconds = optional(number)
    bedrock_max_attempts         = optional(number)
    max_output_tokens            = optional(number)
    default_max_tokens           = optional(number)
    max_request_bytes            = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.gate_settings.bedrock_read_timeout_seconds == null ? true : var.gate_settings.bedrock_read_timeout_seconds >= 1 && var.gate_settings.bedrock_read_timeout_seconds <= 900
    error_message = "gate_settings.bedrock_read_timeout_seconds must be from 1 to 900 seconds (and below lambda_timeout), or null for the gate's default of 25."
  }

  validation {
    condition     = var.gate_settings.bedrock_max_attempts == null ? true : var.gate_settings.bedrock_max_attempts >= 1 && var.gate_settings.bedrock_max_attempts <= 5 && floor(var.gate_settings.bedrock_max_attempts) == var.gate_settings.bedrock_max_attempts
    error_message = "gate_settings.bedrock_max_attempts must be a whole number from 1 (no retry) to 5, or null for the gate's default of 2."
  }

  validation {
    condition     = var.gate_settings.max_output_tokens == null ? true : var.gate_settings.max_output_tokens >= 1 && var.gate_settings.max_output_tokens <= 1000000 && floor(var.gate_settings.max_output_tokens) == var.gate_settings.max_output_tokens
    error_message = "gate_settings.max_output_tokens must be a whole number of tokens from 1 to 1000000, or null for the gate's default of 4096."
  }

  validation {
    # The gate refuses to start when the default exceeds the cap, so refuse it here instead.
    condition     = var.gate_settings.default_max_tokens == null ? true : var.gate_settings.default_max_tokens >= 1 && var.gate_settings.default_max_tokens <= coalesce(var.gate_settings.max_output_tokens, 4096) && floor(var.gate_settings.default_max_tokens) == var.gate_settings.default_max_tokens
    error_message = "gate_settings.default_max_tokens must be a whole number from 1 to max_output_tokens (4096 when max_output_tokens is null), or null for the gate's default."
  }

  validation {
    condition     = var.gate_settings.max_request_bytes == null ? true : var.gate_settings.max_request_bytes >= 1024 && var.gate_settings.max_request_bytes <= 6291456 && floor(var.gate_settings.max_request_bytes) == var.gate_settings.max_request_bytes
    error_message = "gate_settings.max_request_bytes must be a whole number of bytes from 1024 to 6291456 (Lambda's 6 MiB synchronous payload limit), or null for the gate's default of 262144."
  }
}

# -------------------------------------------------------------------------------------------------
# Metrics and logging
# -------------------------------------------------------------------------------------------------

variable "metrics_namespace" {
  description = "CloudWatch namespace of the gate's EMF metrics (POWERTOOLS_METRICS_NAMESPACE); the caller alarms watch this namespace."
  type        = string
  default     = "GenAIRateLimiting"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "The metrics_namespace must be 1-255 characters of letters, digits and . _ / # : - and must not start with \"AWS/\" (reserved for AWS services)."
  }
}

variable "service_name" {
  description = "POWERTOOLS_SERVICE_NAME: the service label in the gate's logs and traces."
  type        = string
  default     = "token-gate"

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,64}$", var.service_name))
    error_message = "The service_name must be 1-64 characters of letters, digits, dots, underscores and hyphens."
  }
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of the gate."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "The log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "powertools_tracer" {
  description = "Add Powertools Tracer subsegments to the gate's X-Ray traces (POWERTOOLS_TRACE_DISABLED=false). Lambda's active tracing records every invocation either way; the Tracer adds the X-Ray SDK's import to every cold start and patches botocore, so it is off unless asked for."
  type        = bool
  default     = false
}

variable "metrics_combined_dimensions" {
  description = "Also publish the combined Model x CostCenter x Application x Environment dimension set (METRICS_COMBINED_DIMENSIONS). Off by default: metric count then grows with the product of the cardinalities, not their sum."
  type        = bool
  default     = false
}

variable "caller_metrics_enabled" {
  description = "Publish CallerBudgetUsedPercent for every registered caller (CALLER_METRICS): one billed custom metric per caller, which the per-caller alarms and the dashboard's per-caller widget read. null follows caller_alarms.enabled."
  type        = bool
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days (0 = never expire). The default keeps a year of request and EMF records."
  type        = number
  default     = 365

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts: 0 (never expire), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the log group. Null uses CloudWatch Logs' own encryption. The key policy must allow the logs.<region>.amazonaws.com service principal."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_kms_key_arn))
    error_message = "The log_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>), or null."
  }
}

# -------------------------------------------------------------------------------------------------
# Lambda function
# -------------------------------------------------------------------------------------------------

variable "powertools_layer_arn" {
  description = "ARN of the Powertools for AWS Lambda (Python) V3 layer for python3.13/arm64. Null uses the public layer arn:<partition>:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:37 (commercial partition only: set it explicitly in China and GovCloud Regions)."
  type        = string
  default     = null

  validation {
    condition     = var.powertools_layer_arn == null ? true : can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", var.powertools_layer_arn))
    error_message = "The powertools_layer_arn must be a versioned layer ARN (arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>), or null for the public Powertools layer."
  }
}

variable "lambda_timeout" {
  description = "Function timeout in seconds. API Gateway REST integrations give up after 29 s by default; a longer timeout still lets the gate settle a slow Bedrock call after the client is gone. The default covers the gate's default worst case (about 77 s)."
  type        = number
  default     = 90

  validation {
    condition     = var.lambda_timeout >= 3 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "The lambda_timeout must be a whole number of seconds from 3 to 900."
  }
}

variable "lambda_memory_size" {
  description = "Function memory in MB (CPU scales with it)."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "The lambda_memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function: caps how many requests reach Bedrock at once. Null leaves it unreserved; 0 stops the function from being invoked."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null ? true : var.reserved_concurrent_executions >= 0 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "The reserved_concurrent_executions must be a whole number >= 0, or null for unreserved concurrency."
  }
}

variable "environment_kms_key_arn" {
  description = "ARN of a customer managed KMS key for the function's environment variables. Null uses Lambda's service key; the variables hold names, limits and the model allowlist, no secrets."
  type        = string
  default     = null

  validation {
    condition     = var.environment_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.environment_kms_key_arn))
    error_message = "The environment_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>), or null."
  }
}

variable "permissions_boundary" {
  description = "ARN of an IAM managed policy set as the permissions boundary of the function's role, or null."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null ? true : can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary))
    error_message = "The permissions_boundary must be an IAM policy ARN (arn:<partition>:iam::<account>:policy/<name>), or null."
  }
}

# -------------------------------------------------------------------------------------------------
# Per-caller alarms
# -------------------------------------------------------------------------------------------------

variable "caller_alarms" {
  description = <<-EOT
    Optional CloudWatch alarms per registered caller on CallerBudgetUsedPercent (dimension
    Principal), one per threshold percentage, sending ALARM and OK to sns_topic_arn (the alarm
    enforcer's topic, typically). Off by default: every alarm, and every per-caller metric it
    watches, is billed. Callers with alarms = false are skipped.
  EOT
  type = object({
    enabled            = optional(bool, false)
    thresholds_percent = optional(list(number), [95])
    sns_topic_arn      = optional(string)
    period_seconds     = optional(number, 300)
    evaluation_periods = optional(number, 1)
    treat_missing_data = optional(string, "notBreaching")
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.caller_alarms.enabled ? can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.caller_alarms.sns_topic_arn)) : true
    error_message = "With caller_alarms.enabled = true, caller_alarms.sns_topic_arn must be a standard SNS topic ARN (arn:<partition>:sns:<region>:<account>:<topic>) in this Region."
  }

  validation {
    condition     = length(var.caller_alarms.thresholds_percent) > 0 && alltrue([for pct in var.caller_alarms.thresholds_percent : pct > 0 && pct <= 100])
    error_message = "caller_alarms.thresholds_percent must be a non-empty list of percentages greater than 0 and at most 100."
  }

  validation {
    condition     = length(distinct(var.caller_alarms.thresholds_percent)) == length(var.caller_alarms.thresholds_percent)
    error_message = "caller_alarms.thresholds_percent must not repeat a percentage."
  }

  validation {
    condition     = var.caller_alarms.period_seconds >= 60 && var.caller_alarms.period_seconds % 60 == 0
    error_message = "caller_alarms.period_seconds must be a multiple of 60 (the gate's EMF metrics have one-minute resolution)."
  }

  validation {
    condition = (
      var.caller_alarms.evaluation_periods >= 1 &&
      floor(var.caller_alarms.evaluation_periods) == var.caller_alarms.evaluation_periods &&
      var.caller_alarms.period_seconds * var.caller_alarms.evaluation_periods <= (var.caller_alarms.period_seconds < 3600 ? 86400 : 604800)
    )
    error_message = "caller_alarms.evaluation_periods must be a whole number >= 1, and period_seconds x evaluation_periods may not exceed one day (periods under an hour) or seven days (CloudWatch limits)."
  }

  validation {
    condition     = contains(["notBreaching", "breaching", "ignore", "missing"], var.caller_alarms.treat_missing_data)
    error_message = "caller_alarms.treat_missing_data must be one of notBreaching, breaching, ignore, missing."
  }
}

# -------------------------------------------------------------------------------------------------
# Dashboard
# -------------------------------------------------------------------------------------------------

variable "dashboard" {
  description = <<-EOT
    CloudWatch dashboard of the gate (named like the function): requests, budget use per caller,
    tokens and cost by model, cost centre and application, Bedrock's own metrics by ModelId, the
    alarm enforcer's lock events and recent refusals from the gate's logs. On by default (a
    dashboard is billed per month beyond the account's free ones). enforcer_service_name and
    enforcer_metrics_namespace must equal the alarm enforcer's service_name and
    metrics_namespace (null = this module's metrics_namespace). enforcer_function_name adds the
    enforcer function's health and its recent lock events. bedrock_model_ids lists ModelId
    values (model ids, or application inference profile ids such as aip-tenant's
    metric_model_ids) to plot one by one, next to the search over every ModelId. The usage
    meter's row: meter_service_name and meter_metrics_namespace (null = this module's
    metrics_namespace) must equal the usage meter's service_name and metrics_namespace outputs
    and add its direct-use and lock graphs; invocation_log_group_name, the log group the meter
    is subscribed to (its invocation_log_group_name output), adds a Logs Insights table of the
    top direct callers. Null or "" leaves each out.
  EOT
  type = object({
    enabled                    = optional(bool, true)
    period_seconds             = optional(number, 300)
    enforcer_service_name      = optional(string, "bedrock-guard-enforcer")
    enforcer_metrics_namespace = optional(string)
    enforcer_function_name     = optional(string)
    bedrock_model_ids          = optional(list(string), [])
    meter_service_name         = optional(string)
    meter_metrics_namespace    = optional(string)
    invocation_log_group_name  = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.dashboard.period_seconds >= 60 && var.dashboard.period_seconds <= 86400 && var.dashboard.period_seconds % 60 == 0
    error_message = "dashboard.period_seconds must be a multiple of 60 from 60 to 86400 (the gate's EMF metrics have one-minute resolution)."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.dashboard.enforcer_service_name))
    error_message = "dashboard.enforcer_service_name must be 1-128 letters, digits, underscores, dots or hyphens: the alarm enforcer's service_name."
  }

  validation {
    condition     = var.dashboard.enforcer_metrics_namespace == null ? true : can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.dashboard.enforcer_metrics_namespace)) && !startswith(var.dashboard.enforcer_metrics_namespace, "AWS/")
    error_message = "dashboard.enforcer_metrics_namespace must be the alarm enforcer's metrics_namespace (1-255 letters, digits and . _ / # : -, not starting with \"AWS/\"), or null for this module's metrics_namespace."
  }

  validation {
    condition     = var.dashboard.enforcer_function_name == null ? true : can(regex("^[A-Za-z0-9_-]{1,64}$", var.dashboard.enforcer_function_name))
    error_message = "dashboard.enforcer_function_name must be a Lambda function name (1-64 letters, digits, hyphens and underscores; the alarm enforcer's function_name output), or null."
  }

  validation {
    condition     = length(var.dashboard.bedrock_model_ids) <= 50 && alltrue([for id in var.dashboard.bedrock_model_ids : length(id) <= 2048 && can(regex("^[A-Za-z0-9][A-Za-z0-9._:/-]*$", id))])
    error_message = "dashboard.bedrock_model_ids must list at most 50 ModelId values: model ids (anthropic.claude-3-haiku-20240307-v1:0), profile ids or profile ARNs."
  }

  validation {
    condition     = length(distinct(var.dashboard.bedrock_model_ids)) == length(var.dashboard.bedrock_model_ids)
    error_message = "dashboard.bedrock_model_ids must not repeat a ModelId."
  }

  validation {
    condition     = length(compact([var.dashboard.meter_service_name])) == 0 || can(regex("^[A-Za-z0-9_.-]{1,128}$", var.dashboard.meter_service_name))
    error_message = "dashboard.meter_service_name must be the usage meter's service_name (1-128 letters, digits, underscores, dots or hyphens), or null or \"\" for no meter graphs."
  }

  validation {
    condition     = length(compact([var.dashboard.meter_metrics_namespace])) == 0 || (can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.dashboard.meter_metrics_namespace)) && !startswith(coalesce(var.dashboard.meter_metrics_namespace, "-"), "AWS/"))
    error_message = "dashboard.meter_metrics_namespace must be the usage meter's metrics_namespace (1-255 letters, digits and . _ / # : -, not starting with \"AWS/\"), or null or \"\" for this module's metrics_namespace."
  }

  # CloudWatch Logs' own rule for log group names; it also keeps quotes out of the query.
  validation {
    condition     = length(compact([var.dashboard.invocation_log_group_name])) == 0 || can(regex("^[A-Za-z0-9_./#-]{1,512}$", var.dashboard.invocation_log_group_name))
    error_message = "dashboard.invocation_log_group_name must be a log group name (1-512 letters, digits and _ . / # -; the usage meter's invocation_log_group_name output), or null or \"\" for no top-callers table."
  }
}
