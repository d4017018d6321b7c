# Names ---------------------------------------------------------------------------------------

variable "name" {
  description = "Name of the function and prefix of everything else the module creates (role, log group, dead-letter queue, subscription filter, schedule rule)."
  type        = string
  default     = "bedrock-guard-meter"

  validation {
    # 48 leaves room for the "-window-release" suffix within EventBridge's 64-character rule names.
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.name))
    error_message = "name must be 1-48 letters, digits, hyphens or underscores (it names the function and role, and prefixes the queue and the schedule rule)."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource the module creates."
  type        = map(string)
  default     = {}
}

# What the meter reads ------------------------------------------------------------------------

variable "invocation_log_group_name" {
  description = "Name of the Bedrock model invocation log group (modules/aip-tenant's invocation_log_group_name output). The function is subscribed to it; null means invocation logging is off, and the meter then has nothing to read."
  type        = string

  validation {
    condition     = var.invocation_log_group_name != null
    error_message = "invocation_log_group_name is null: Bedrock model invocation logging is off, and the usage meter reads that log. Turn invocation logging on (aip-tenant invocation_logging.enabled; invocation_logging_enabled in the environments) or turn the usage meter off."
  }

  validation {
    condition     = var.invocation_log_group_name == null || can(regex("^[.\\-_/#A-Za-z0-9]{1,512}$", coalesce(var.invocation_log_group_name, "-")))
    error_message = "invocation_log_group_name must be a CloudWatch Logs log group name: 1-512 letters, digits and . - _ / #."
  }
}

# The gate's accounting (same meanings as modules/token-gate) ----------------------------------

variable "table_name" {
  description = "The token gate's table (its table_name output): caller registry, usage windows and lock ledger. Passed as both USAGE_TABLE_NAME and LEDGER_TABLE_NAME."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be a DynamoDB table name: 3-255 letters, digits, underscores, hyphens or dots."
  }
}

variable "table_kms_key_arn" {
  description = "Customer managed KMS key of the table, if it has one (the token gate's table_kms_key_arn), so the function may use it through DynamoDB. Null when the table uses the AWS managed key."
  type        = string
  default     = null

  validation {
    condition     = var.table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.table_kms_key_arn, "-")))
    error_message = "table_kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab, or null."
  }
}

variable "tier_limits_json" {
  description = "TIER_LIMITS_JSON exactly as the gate reads it (the token gate's tier_limits_json output): per tier monthly_tokens, daily_tokens, monthly_usd, daily_usd, null meaning no limit."
  type        = string

  validation {
    condition     = can(keys(jsondecode(var.tier_limits_json)))
    error_message = "tier_limits_json must be a JSON object of tiers, as the token gate's tier_limits_json output gives it."
  }
}

variable "default_tier" {
  description = "DEFAULT_TIER: the tier of principals that are not registered, or \"none\" (the token gate's default_tier). Must be a tier of tier_limits_json (checked at plan time)."
  type        = string
  default     = "none"

  validation {
    condition     = var.default_tier == "none" || can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.default_tier))
    error_message = "default_tier must be \"none\" or the name of one of the tiers."
  }
}

variable "model_aliases_json" {
  description = "MODEL_ALIASES_JSON exactly as the gate reads it (the token gate's model_aliases_json output): the meter prices an application inference profile as its pricing_model."
  type        = string

  validation {
    condition     = can(keys(jsondecode(var.model_aliases_json)))
    error_message = "model_aliases_json must be a JSON object (alias => model id or {target, pricing_model}), as the token gate's model_aliases_json output gives it."
  }
}

variable "pricing_json" {
  description = "PRICING_JSON: the gate's override of the built-in prices (the token gate's pricing_json output). Null keeps the built-in table and leaves the variable out of the environment."
  type        = string
  default     = null

  validation {
    condition     = var.pricing_json == null || can(keys(jsondecode(coalesce(var.pricing_json, "{}"))))
    error_message = "pricing_json must be a JSON object (for example jsonencode({...})), or null."
  }
}

variable "gate_role_arn" {
  description = "GATE_ROLE_ARN: the token gate's role (its role_arn output). Records the gate's own calls made are reconciliation of its holds, not direct usage. Null treats every record as direct usage (no gate in front of Bedrock)."
  type        = string
  default     = null

  validation {
    condition     = var.gate_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[!-~]+$", coalesce(var.gate_role_arn, "-")))
    error_message = "gate_role_arn must be an IAM role ARN such as arn:aws:iam::123456789012:role/bedrock-token-gate-role, or null."
  }
}

# The enforcer's locking (same meanings as modules/alarm-enforcer) -----------------------------

variable "deny_policy_arn" {
  description = "The alarm enforcer's deny policy (its deny_policy_arn output): the only policy the meter may attach or detach."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]{1,512}$", var.deny_policy_arn))
    error_message = "deny_policy_arn must be one customer managed IAM policy ARN, no wildcards, such as arn:aws:iam::123456789012:policy/bedrock-guard-enforcer-deny-bedrock-inference (the enforcer's deny_policy_arn output)."
  }
}

variable "allowed_principal_paths" {
  description = "IAM paths of the users and roles the meter may lock (the enforcer's allowed_principal_paths output); a path covers its sub-paths, [\"/\"] covers every path."
  type        = list(string)
  default     = ["/"]

  validation {
    condition     = length(var.allowed_principal_paths) > 0
    error_message = "allowed_principal_paths needs at least one path; [\"/\"] covers every path."
  }

  validation {
    condition = alltrue([
      for path in var.allowed_principal_paths :
      can(regex("^/([!-~]*/)?$", path)) && length(path) <= 512 && !strcontains(path, "*") && !strcontains(path, "?")
    ])
    error_message = "Each allowed_principal_paths entry must start and end with \"/\" (for example \"/\" or \"/teams/genai/\"), be at most 512 printable ASCII characters and contain no \"*\" or \"?\"."
  }

  validation {
    condition = alltrue([
      for path in var.allowed_principal_paths :
      !startswith(path, "/aws-service-role/") && !startswith(path, "/aws-reserved/")
    ])
    error_message = "allowed_principal_paths must not name /aws-service-role/ or /aws-reserved/: service-linked and IAM Identity Center roles are never locked."
  }
}

variable "protected_principals" {
  description = "IAM user and role ARNs (exact, or with * wildcards) never locked (the enforcer's protected_principals output): the function refuses them and the role's policy denies attaching the deny policy to them."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for arn in var.protected_principals :
      can(regex("^arn:(aws[a-z-]*|\\*):(iam|sts)::([0-9]{12}|\\*):[!-~]+$", arn))
    ])
    error_message = "Each protected_principals entry must be an IAM or STS ARN such as arn:aws:iam::123456789012:role/Admin or arn:aws:iam::123456789012:role/break-glass-*."
  }
}

variable "dry_run" {
  description = "Count usage but change no IAM: log and record the locks the meter would take (the enforcer's dry_run output)."
  type        = bool
  default     = false
}

# Schedule ------------------------------------------------------------------------------------

variable "release_schedule" {
  description = "EventBridge schedule expression (UTC) of the release of locks whose window has ended. The default runs daily at 00:05 UTC, five minutes into the new day (and month)."
  type        = string
  default     = "cron(5 0 * * ? *)"

  validation {
    condition     = can(regex("^cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\)$", var.release_schedule)) || can(regex("^rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)$", var.release_schedule))
    error_message = "release_schedule must be an EventBridge schedule expression: cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>) with six fields, such as cron(5 0 * * ? *), or rate(<n> <unit>) such as rate(1 day) or rate(12 hours)."
  }
}

# Encryption ----------------------------------------------------------------------------------

variable "log_kms_key_arn" {
  description = "Customer managed KMS key for the function's log group. Null uses CloudWatch Logs' own encryption; a given key's policy must allow the logs.<region>.amazonaws.com service principal."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.log_kms_key_arn, "-")))
    error_message = "log_kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab, or null."
  }
}

variable "environment_kms_key_arn" {
  description = "Customer managed KMS key for the function's environment variables. Null uses Lambda's service key; the variables hold names, limits, ARNs and the model map, no secrets."
  type        = string
  default     = null

  validation {
    condition     = var.environment_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.environment_kms_key_arn, "-")))
    error_message = "environment_kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab, or null."
  }
}

variable "dlq_kms_key_arn" {
  description = "Customer managed KMS key for the dead-letter queue. Null uses SQS-managed encryption (SSE-SQS)."
  type        = string
  default     = null

  validation {
    condition     = var.dlq_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", coalesce(var.dlq_kms_key_arn, "-")))
    error_message = "dlq_kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab, or null."
  }
}

# Function ------------------------------------------------------------------------------------

variable "powertools_layer_arn" {
  description = "ARN of the Powertools for AWS Lambda (Python) V3 layer for python3.13/arm64. Null uses the public layer arn:<partition>:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:37 (commercial partition only: set it explicitly in China and GovCloud Regions)."
  type        = string
  default     = null

  validation {
    condition     = var.powertools_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", coalesce(var.powertools_layer_arn, "-")))
    error_message = "powertools_layer_arn must be a versioned layer ARN (arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>), or null for the public Powertools layer."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB from 128 to 10240."
  }
}

variable "timeout" {
  description = "Function timeout in seconds. One invocation meters one subscription delivery, which may carry thousands of records, and locks a caller at the record that crosses its limit (not at the end of the delivery); a delivery that times out is retried whole and counts nothing twice."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds from 3 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency cap of the function. A small cap bounds how fast an IAM-editing function can act; throttled events wait in Lambda's queue and are retried. 0 stops the meter entirely (a kill switch: records wait, then go to the dead-letter queue)."
  type        = number
  default     = 5

  validation {
    condition     = var.reserved_concurrent_executions >= 0 && var.reserved_concurrent_executions <= 100 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be a whole number from 0 (disabled) to 100."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation before the event goes to the dead-letter queue."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.maximum_retry_attempts)
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "maximum_event_age_in_seconds" {
  description = "Oldest event age Lambda still delivers before sending it to the dead-letter queue."
  type        = number
  default     = 21600

  validation {
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600 && floor(var.maximum_event_age_in_seconds) == var.maximum_event_age_in_seconds
    error_message = "maximum_event_age_in_seconds must be a whole number from 60 to 21600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long failed events stay in the dead-letter queue (replaying one counts nothing twice)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600 && floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds
    error_message = "dlq_message_retention_seconds must be a whole number from 60 to 1209600 (14 days)."
  }
}

variable "log_level" {
  description = "Log level of the function (POWERTOOLS_LOG_LEVEL and Lambda application logs)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the meter's EMF metrics (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "GenAIRateLimiting"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.#:/-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 letters, digits or _ . # : / - and must not start with \"AWS/\"."
  }
}

variable "service_name" {
  description = "Powertools service name in the function's logs and metrics (POWERTOOLS_SERVICE_NAME)."
  type        = string
  default     = "bedrock-guard-meter"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.service_name))
    error_message = "service_name must be 1-128 letters, digits, underscores, dots or hyphens."
  }
}

variable "health_alarm_actions" {
  description = "SNS topic ARNs notified when the LockIncomplete alarm changes state (the enforcer's health_alarm_actions output: the same people fix both). Never the enforcer's alarm topic. Empty: the alarm is visible in CloudWatch only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.health_alarm_actions : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", arn))])
    error_message = "Each health_alarm_actions entry must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:ops."
  }
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary policy for the function's role."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", coalesce(var.permissions_boundary, "-")))
    error_message = "permissions_boundary must be an IAM policy ARN such as arn:aws:iam::123456789012:policy/Boundary."
  }
}
