# Inputs of the dev environment. environments/prod declares the same variables with the defaults
# production wants; a test keeps the two lists equal.

variable "environment" {
  description = "Environment name: prefixes every resource (bedrock-guard-<environment>-...) and tags it."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,11}$", var.environment))
    error_message = "environment must be 1-12 lowercase letters, digits or hyphens, starting with a letter (it prefixes names with length limits)."
  }
}

variable "region" {
  description = "AWS Region to deploy to (where the gate calls Bedrock)."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be a Region code such as us-east-1 or eu-central-1."
  }
}

variable "assume_role_arn" {
  description = "Role to assume in the target account (null: use the caller's credentials as they are)."
  type        = string
  default     = null

  validation {
    condition     = var.assume_role_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/[!-~]+$", var.assume_role_arn))
    error_message = "assume_role_arn must be an IAM role ARN such as arn:aws:iam::123456789012:role/terraform."
  }
}

variable "tags" {
  description = "Tags added to every resource through the provider's default_tags."
  type        = map(string)
  default     = {}
}

variable "permissions_boundary" {
  description = "Permissions boundary ARN set on every IAM role the modules create (null: none)."
  type        = string
  default     = null
}

# Callers and models ------------------------------------------------------------------------

variable "default_tier" {
  description = "Tier of callers that are not registered, or \"none\" to refuse them with 403."
  type        = string
  default     = "basic"
}

variable "callers" {
  description = "IAM callers of the gate (user, role or session ARN => tier and cost labels); see modules/token-gate callers."
  type = map(object({
    tier        = string
    tenant      = string
    cost_center = string
    application = string
    environment = optional(string)
    alarms      = optional(bool, true)
  }))
  default = {}
}

variable "api_key_users" {
  description = "Users of the API by API key (name => tier and cost labels): each gets an API key on its tier's usage plan and a registry entry in the gate under that key's id. IAM cannot lock an API key, so their budget alarms are off unless alarms = true (they would only notify the enforcer, which refuses them)."
  type = map(object({
    tier        = string
    tenant      = string
    cost_center = string
    application = string
    alarms      = optional(bool, false)
  }))
  default = {}
}

variable "iam_authorization" {
  description = "Require SigV4 (AWS_IAM) on POST /invoke in addition to the API key, so the gate budgets the IAM caller."
  type        = bool
  default     = false
}

variable "model_aliases" {
  description = "Model allowlist of the gate besides the tenant profiles: alias => { model_id } (see modules/token-gate model_aliases)."
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
}

variable "tenants" {
  description = "One application inference profile per tenant (see modules/aip-tenant tenants); each becomes a gate model alias, and its alarms lock its principals."
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
}

# Enforcement -------------------------------------------------------------------------------

variable "caller_alarms_enabled" {
  description = "Create per-caller budget alarms on the gate's metric that lock a caller through the enforcer (each alarm is billed)."
  type        = bool
  default     = true
}

variable "caller_alarm_thresholds_percent" {
  description = "Percentages of a caller's tightest budget window at which its alarms fire and lock it (usage settles just under 100%: the gate refuses what would not fit)."
  type        = list(number)
  default     = [95]
}

variable "release_on_ok" {
  description = "Release a lock when the alarm that made it returns to OK (false: operators release with bedrock-guard unlock)."
  type        = bool
  default     = true
}

variable "enforcer_dry_run" {
  description = "Record what the enforcer would lock without changing IAM."
  type        = bool
  default     = false
}

variable "protected_principals" {
  description = "IAM ARNs or * patterns the enforcer never locks (the principal running Terraform is always added)."
  type        = list(string)
  default     = []
}

variable "operator_emails" {
  description = "Operators subscribed to the enforcer's alarm topic."
  type        = list(string)
  default     = []
}

# Budgets -----------------------------------------------------------------------------------

variable "monthly_budget_usd" {
  description = "Monthly AWS Budgets limit on the account's Bedrock spend, in USD."
  type        = number
  default     = 100
}

variable "budget_emails" {
  description = "Addresses notified by the Bedrock and tenant budgets."
  type        = list(string)
  default     = []
}

variable "budget_action" {
  description = "AWS Budgets native action applying the enforcer's deny policy at a percentage of monthly_budget_usd to the listed IAM principals (names, optionally path/name); null: no action."
  type = object({
    users             = optional(list(string), [])
    roles             = optional(list(string), [])
    groups            = optional(list(string), [])
    threshold_percent = optional(number, 100)
    approval_model    = optional(string, "AUTOMATIC")
  })
  default = null
}

# Operations --------------------------------------------------------------------------------

variable "log_retention_days" {
  description = "Retention of every log group the environment creates."
  type        = number
  default     = 30
}

variable "table_deletion_protection" {
  description = "Protect the usage, registry and lock table from deletion."
  type        = bool
  default     = false
}

variable "gate_reserved_concurrency" {
  description = "Reserved concurrency of the token gate (null: unreserved)."
  type        = number
  default     = null
}

variable "invocation_logging_enabled" {
  description = "Turn on Bedrock model invocation logging for this account and Region (one environment per account and Region), metadata only: the usage meter reads it."
  type        = bool
  default     = true
}

variable "usage_meter_enabled" {
  description = "Meter every Bedrock call of the account and Region from the invocation log, gate or direct, against the caller's budget, and lock callers over a limit (modules/usage-meter). Needs invocation_logging_enabled; both are on by default in dev."
  type        = bool
  default     = true
}

variable "activate_cost_allocation_tags" {
  description = "Activate costCenter, applicationId and environment as cost allocation tags (payer or standalone account only)."
  type        = bool
  default     = false
}

variable "manage_api_gateway_account_role" {
  description = "Set this Region's API Gateway account CloudWatch role, which stage logging needs (account-wide: one stack per account and Region)."
  type        = bool
  default     = true
}
