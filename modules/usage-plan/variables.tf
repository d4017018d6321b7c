variable "name" {
  description = "Name of the REST API; prefixes the usage plans, API keys, log groups and (if managed) the account CloudWatch role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_-]{0,31}$", var.name))
    error_message = "name must start with a letter and have 1 to 32 letters, digits, '-' or '_' (it is part of an IAM role name and a Lambda permission statement id)."
  }
}

variable "description" {
  description = "Description of the REST API."
  type        = string
  default     = "Token-gated access to Amazon Bedrock: API keys, usage plans, per-caller budgets"

  validation {
    condition     = length(var.description) <= 1024
    error_message = "description must be at most 1024 characters."
  }
}

variable "function_invoke_arn" {
  description = "Invoke ARN of the token gate Lambda (the function's invoke_arn attribute, or the modules/token-gate output), used as the AWS_PROXY integration URI."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9$_-]+)?/invocations$", var.function_invoke_arn))
    error_message = "function_invoke_arn must be a Lambda invoke ARN (arn:<partition>:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations): pass the function's invoke_arn, not its arn."
  }
}

variable "function_name" {
  description = "Name (or ARN) of the token gate Lambda, which the Lambda permission lets this API invoke."
  type        = string

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,64}|arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]{1,64})$", var.function_name))
    error_message = "function_name must be a Lambda function name (1 to 64 letters, digits, '-' or '_') or its unqualified ARN."
  }
}

variable "iam_authorization" {
  description = "Require SigV4-signed requests (authorization AWS_IAM) in addition to the API key. The token gate then budgets each IAM caller by its ARN (role sessions share their role's budget) instead of by API key id."
  type        = bool
  default     = false
}

variable "resource_policy_json" {
  description = "Optional resource policy (JSON) of the REST API, e.g. to admit other accounts' IAM callers or restrict source VPCs/IPs. Refer to the API as \"execute-api:/*\" in Resource: its ARN does not exist yet. Null for none."
  type        = string
  default     = null

  validation {
    condition     = var.resource_policy_json == null || can(jsondecode(var.resource_policy_json).Statement)
    error_message = "resource_policy_json must be a JSON policy document with a Statement (use data.aws_iam_policy_document's json or jsonencode), or null."
  }
}

variable "stage_name" {
  description = "Name of the stage; part of the invoke URL (https://<api>.execute-api.<region>.amazonaws.com/<stage>/invoke)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,48}$", var.stage_name))
    error_message = "stage_name must have 1 to 48 letters, digits, '-' or '_' (it is part of the Lambda permission's statement id)."
  }
}

variable "integration_timeout_ms" {
  description = "How long API Gateway waits for the token gate, in milliseconds. Above 29000 needs an approved \"Maximum integration timeout\" quota increase for Regional REST APIs. A request that times out still completes and settles in the gate; only the client loses the answer."
  type        = number
  default     = 29000

  validation {
    condition     = var.integration_timeout_ms >= 50 && var.integration_timeout_ms <= 300000 && floor(var.integration_timeout_ms) == var.integration_timeout_ms
    error_message = "integration_timeout_ms must be a whole number from 50 to 300000 (above 29000 only with a quota increase)."
  }
}

variable "throttling_rate_limit" {
  description = "Stage-wide steady-state request rate (requests per second) for all callers together. Each usage plan additionally limits each key; size this to the token gate's Lambda concurrency (about rate x average request seconds)."
  type        = number
  default     = 100

  validation {
    condition     = var.throttling_rate_limit > 0 && var.throttling_rate_limit <= 10000
    error_message = "throttling_rate_limit must be above 0 and at most 10000 (the default account-level limit per region)."
  }
}

variable "throttling_burst_limit" {
  description = "Stage-wide burst (token bucket size, requests) for all callers together."
  type        = number
  default     = 200

  validation {
    condition     = var.throttling_burst_limit >= 1 && var.throttling_burst_limit <= 5000 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a whole number from 1 to 5000 (the default account-level burst per region)."
  }
}

variable "detailed_metrics_enabled" {
  description = "Publish per-method CloudWatch metrics for the stage (billed as custom metrics; one method here, so a handful)."
  type        = bool
  default     = true
}

variable "execution_logging_level" {
  description = "Execution logging level of the stage: OFF, ERROR or INFO. Request and response bodies (prompts, model output) are never logged."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "xray_tracing_enabled" {
  description = "Enable AWS X-Ray tracing on the stage (the token gate traces too, so a request shows end to end)."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the access and execution log groups, in days (a value CloudWatch Logs accepts)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_arn" {
  description = "Optional KMS key ARN for the log groups. Its key policy must allow the CloudWatch Logs service principal of this region. Null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.log_kms_key_arn))
    error_message = "log_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias, or null."
  }
}

variable "manage_account_cloudwatch_role" {
  description = "Create the IAM role API Gateway logs through and set it on the account (aws_api_gateway_account). Account-wide per region: enable in one stack per account and region only, and only if no baseline sets it already. Logging fails until the account has such a role."
  type        = bool
  default     = false
}

variable "permissions_boundary" {
  description = "Optional permissions boundary ARN for the IAM role this module creates (only when manage_account_cloudwatch_role is true)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary))
    error_message = "permissions_boundary must be an IAM policy ARN (arn:<partition>:iam::<account>:policy/<name>) or null."
  }
}

variable "tiers" {
  description = "Usage plans by tier name: a request quota per DAY, WEEK or MONTH (offset: requests subtracted in the first period) and a per-key throttle (steady rate in requests per second, burst in requests)."
  type = map(object({
    description = optional(string)
    quota = object({
      limit  = number
      period = optional(string, "DAY")
      offset = optional(number, 0)
    })
    throttle = object({
      rate_limit  = number
      burst_limit = number
    })
  }))
  default = {
    basic = {
      quota    = { limit = 1000, period = "DAY" }
      throttle = { rate_limit = 5, burst_limit = 10 }
    }
    professional = {
      quota    = { limit = 10000, period = "DAY" }
      throttle = { rate_limit = 20, burst_limit = 40 }
    }
    enterprise = {
      quota    = { limit = 100000, period = "DAY" }
      throttle = { rate_limit = 100, burst_limit = 200 }
    }
  }

  validation {
    condition     = length(var.tiers) > 0
    error_message = "tiers must define at least one tier."
  }

  validation {
    condition     = alltrue([for name in keys(var.tiers) : can(regex("^[a-z][a-z0-9_-]{0,31}$", name))])
    error_message = "Tier names must be 1 to 32 lower-case letters, digits, '-' or '_', starting with a letter (the same names as the token gate's TIER_LIMITS_JSON)."
  }

  validation {
    condition     = alltrue([for tier in values(var.tiers) : tier.quota.limit >= 1 && floor(tier.quota.limit) == tier.quota.limit])
    error_message = "Every tier's quota.limit must be a whole number of requests, at least 1."
  }

  validation {
    condition     = alltrue([for tier in values(var.tiers) : contains(["DAY", "WEEK", "MONTH"], tier.quota.period)])
    error_message = "Every tier's quota.period must be DAY, WEEK or MONTH."
  }

  validation {
    condition     = alltrue([for tier in values(var.tiers) : tier.quota.offset >= 0 && tier.quota.offset < tier.quota.limit && floor(tier.quota.offset) == tier.quota.offset])
    error_message = "Every tier's quota.offset must be a whole number from 0 to quota.limit - 1."
  }

  validation {
    condition     = alltrue([for tier in values(var.tiers) : tier.throttle.rate_limit > 0 && tier.throttle.rate_limit <= 10000])
    error_message = "Every tier's throttle.rate_limit must be above 0 and at most 10000 requests per second."
  }

  validation {
    condition     = alltrue([for tier in values(var.tiers) : tier.throttle.burst_limit >= 1 && tier.throttle.burst_limit <= 5000 && floor(tier.throttle.burst_limit) == tier.throttle.burst_limit])
    error_message = "Every tier's throttle.burst_limit must be a whole number from 1 to 5000."
  }
}

variable "api_keys" {
  description = "API keys by user (or client application) name, each attached to the usage plan of its tier. Key values are generated by API Gateway and kept in state (use an encrypted backend). The token gate's registry keys these callers as apikey:<key id> (see the api_key_principals output)."
  type = map(object({
    tier        = string
    enabled     = optional(bool, true)
    description = optional(string)
    customer_id = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for user in keys(var.api_keys) : can(regex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$", user))])
    error_message = "api_keys names must be 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit."
  }

  validation {
    condition     = alltrue([for key in values(var.api_keys) : can(regex("^[a-z][a-z0-9_-]{0,31}$", key.tier))])
    error_message = "Every api_keys entry needs a tier named like the keys of var.tiers (lower-case letters, digits, '-' or '_'); it must also be one of them, which is checked at plan time."
  }
}

variable "tags" {
  description = "Tags merged into every taggable resource of the module."
  type        = map(string)
  default     = {}
}
