# Names ---------------------------------------------------------------------------------------

variable "name" {
  description = "Name of the function and prefix of everything else the module creates (role, deny policy, topic, queue, key alias, ledger table)."
  type        = string
  default     = "bedrock-guard-enforcer"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name must be 1-40 letters, digits, hyphens or underscores (it prefixes IAM, Lambda, SNS and SQS names)."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource the module creates."
  type        = map(string)
  default     = {}
}

# The deny policy -----------------------------------------------------------------------------

variable "deny_resource_arns" {
  description = "Model, inference profile or provisioned throughput ARNs the deny policy's bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream statement covers. The default [\"*\"] denies inference on every model, which is what a lockout should do; API-key and bedrock-mantle denies always cover all resources."
  type        = list(string)
  default     = ["*"]

  validation {
    condition     = length(var.deny_resource_arns) > 0
    error_message = "deny_resource_arns needs at least one entry; use [\"*\"] to deny inference on every model."
  }

  validation {
    condition = alltrue([
      for arn in var.deny_resource_arns :
      arn == "*" || can(regex("^arn:aws[a-z-]*:bedrock:[a-z0-9*-]*:([0-9]{12}|\\*)?:[a-z-]+/.+$", arn))
    ])
    error_message = "Each deny_resource_arns entry must be \"*\" or a Bedrock ARN such as arn:aws:bedrock:us-east-1::foundation-model/anthropic.* or arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123."
  }
}

variable "deny_mantle_inference" {
  description = "Also deny the bedrock-mantle endpoint (OpenAI-compatible Responses and Chat Completions, Anthropic Messages): bedrock-mantle:CreateInference and bedrock-mantle:CallWithBearerToken. On by default because that endpoint is a second door to the same models."
  type        = bool
  default     = true
}

variable "additional_deny_actions" {
  description = "Extra Bedrock actions the deny policy denies on all resources, for principals that reach models through other features, for example bedrock:InvokeAgent, bedrock:InvokeInlineAgent, bedrock:InvokeFlow, bedrock:RetrieveAndGenerate or bedrock-agentcore:InvokeAgentRuntime. Empty by default."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([
      for action in var.additional_deny_actions :
      can(regex("^bedrock(-[a-z]+)*:[A-Za-z*]+$", action))
    ])
    error_message = "additional_deny_actions entries must be Bedrock actions such as \"bedrock:InvokeAgent\" or \"bedrock-agentcore:InvokeAgentRuntime\" (service prefix bedrock*, no bare \"*\")."
  }
}

# Who may be locked ---------------------------------------------------------------------------

variable "allowed_principal_paths" {
  description = "IAM paths of the users and roles the enforcer may attach the deny policy to; a path covers its sub-paths. The default [\"/\"] covers every path."
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
  description = "IAM user and role ARNs (exact, or with * wildcards) that are never locked: the function refuses them and the role's policy denies attaching the deny policy to them. Path-less user and role ARNs also protect the same name under any path."
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

# How the enforcer behaves --------------------------------------------------------------------

variable "principal_dimension" {
  description = "Metric dimension whose value is the principal ARN to lock (the token gate publishes Principal)."
  type        = string
  default     = "Principal"

  validation {
    condition     = length(var.principal_dimension) >= 1 && length(var.principal_dimension) <= 255
    error_message = "principal_dimension must be a CloudWatch dimension name of 1-255 characters."
  }
}

variable "principal_tag_key" {
  description = "Alarm tag whose value is a comma-separated list of principal ARNs, used when the alarm's metric has no principal dimension."
  type        = string
  default     = "bedrock-guard:principals"

  validation {
    condition     = can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}$", var.principal_tag_key)) && !startswith(lower(var.principal_tag_key), "aws:")
    error_message = "principal_tag_key must be a valid tag key (1-128 letters, digits, spaces and _ . : / = + - @) and must not start with \"aws:\"."
  }
}

variable "release_on_ok" {
  description = "Detach the deny policy when the alarm that locked a principal returns to OK (a principal held by several alarms stays locked until all clear). When false, only an operator releases."
  type        = bool
  default     = true
}

variable "dry_run" {
  description = "Log and record what the enforcer would do without changing IAM. Useful for a first rollout."
  type        = bool
  default     = false
}

variable "alarm_name_prefix" {
  description = "Only alarms whose names start with this prefix may publish to the topic, use its key, have their tags read and make the function lock or release anyone (it drops other notifications before describing the alarm). Empty allows every alarm of this account and region."
  type        = string
  default     = ""

  validation {
    condition     = length(var.alarm_name_prefix) <= 200 && !strcontains(var.alarm_name_prefix, "*") && !strcontains(var.alarm_name_prefix, "?")
    error_message = "alarm_name_prefix must be at most 200 characters and contain no \"*\" or \"?\" (the module appends the wildcard)."
  }
}

# Ledger --------------------------------------------------------------------------------------

variable "ledger_table_name" {
  description = "Name of an existing lock ledger table in this account and region, normally the token gate's table so the gate refuses locked callers. When null the module creates its own table with the same key design."
  type        = string
  default     = null

  validation {
    condition     = var.ledger_table_name == null || can(regex("^[A-Za-z0-9_.-]{3,255}$", var.ledger_table_name))
    error_message = "ledger_table_name must be a DynamoDB table name: 3-255 letters, digits, underscores, hyphens or dots."
  }
}

variable "ledger_kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the existing ledger table, if any, so the function may use it. Not needed when the module creates the table."
  type        = string
  default     = null

  validation {
    condition     = var.ledger_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.ledger_kms_key_arn))
    error_message = "ledger_kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

variable "ledger_deletion_protection" {
  description = "Deletion protection for the ledger table the module creates (ignored when ledger_table_name is given)."
  type        = bool
  default     = true
}

# Encryption ----------------------------------------------------------------------------------

variable "kms_key_arn" {
  description = "Customer managed KMS key for the topic, the dead-letter queue, the log group, the function's environment and the ledger table the module creates. When null the module creates one; a given key's policy needs the statements in the kms_key_policy_json output."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (not an alias)."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the module's KMS key is deleted after a destroy."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30
    error_message = "kms_key_deletion_window_in_days must be between 7 and 30."
  }
}

variable "log_group_kms_key_arn" {
  description = "KMS key for the function's log group. When null the log group uses the module's key (kms_key_arn or the one the module creates)."
  type        = string
  default     = null

  validation {
    condition     = var.log_group_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_group_kms_key_arn))
    error_message = "log_group_kms_key_arn must be a KMS key ARN such as arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab."
  }
}

# Notifications -------------------------------------------------------------------------------

variable "operator_emails" {
  description = "Email addresses subscribed to the alarm topic, so operators see every state change the enforcer acts on. Each address must confirm its subscription."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.operator_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "Each operator_emails entry must be an email address such as ops@example.com."
  }
}

# Function ------------------------------------------------------------------------------------

variable "powertools_layer_arn" {
  description = "ARN of the Powertools for AWS Lambda (Python) V3 layer for python3.13/arm64. Null uses the public layer arn:<partition>:lambda:<region>:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:37 (commercial partition only: set it explicitly in China and GovCloud Regions)."
  type        = string
  default     = null

  validation {
    condition     = var.powertools_layer_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:layer:[A-Za-z0-9_-]+:[0-9]+$", var.powertools_layer_arn))
    error_message = "powertools_layer_arn must be a versioned layer ARN (arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>), or null for the public Powertools layer."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Function timeout in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 900
    error_message = "timeout must be between 3 and 900 seconds."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency cap of the function. A small cap bounds how fast an IAM-editing function can act; throttled SNS events wait in Lambda's queue and are retried. 0 stops the enforcer entirely (a kill switch)."
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
    condition     = var.maximum_event_age_in_seconds >= 60 && var.maximum_event_age_in_seconds <= 21600
    error_message = "maximum_event_age_in_seconds must be between 60 and 21600."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long failed events stay in the dead-letter queue."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "log_level" {
  description = "Log level of the function (Powertools and Lambda application logs)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group; the lock history lives in the ledger, the logs explain it."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the enforcer's metrics (Locks, Releases, Refused)."
  type        = string
  default     = "GenAIRateLimiting"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.#:/-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 letters, digits or _ . # : / - and must not start with \"AWS/\"."
  }
}

variable "service_name" {
  description = "Powertools service name in the function's logs and metrics."
  type        = string
  default     = "bedrock-guard-enforcer"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,128}$", var.service_name))
    error_message = "service_name must be 1-128 letters, digits, underscores, dots or hyphens."
  }
}

variable "lock_audit_schedule" {
  description = "EventBridge schedule expression of the lock audit, which publishes LockDrift (principals whose deny-policy attachment, lock and gate lock marks disagree)."
  type        = string
  default     = "rate(1 day)"

  validation {
    condition     = can(regex("^(rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)|cron\\(.+\\))$", var.lock_audit_schedule))
    error_message = "lock_audit_schedule must be an EventBridge schedule expression such as rate(1 day) or cron(0 6 * * ? *)."
  }
}

variable "health_alarm_actions" {
  description = "SNS topic ARNs notified when the enforcer's own alarms (LockDrift, LockIncomplete) change state. Empty: the alarms are visible in CloudWatch only."
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
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary))
    error_message = "permissions_boundary must be an IAM policy ARN such as arn:aws:iam::123456789012:policy/Boundary."
  }
}
