# Names and scope -------------------------------------------------------------------------------

variable "name" {
  description = "Prefix of everything the module creates: the budgets (<name>-bedrock, <name>-<tag budget key>), the topic, the key alias, the budget action's role and its deny policy copy."
  type        = string
  default     = "bedrock-guard"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,40}$", var.name))
    error_message = "name must be 1-40 letters, digits, hyphens or underscores (it prefixes budget, SNS, KMS alias and IAM role names)."
  }
}

variable "account_id" {
  description = "Account whose spend the budgets track. Null (the default) means the account the provider runs in. The topic, its key and the budget action's role are always created in the provider's account, and Budgets supports neither cross-account topics nor cross-account action roles, so set this only when the module creates neither."
  type        = string
  default     = null

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id, or null for the provider's account."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource the module creates (budgets, budget action, topic, key, role, policy)."
  type        = map(string)
  default     = {}
}

# The account-wide Bedrock budget ---------------------------------------------------------------

variable "create_service_budget" {
  description = "Create the account-wide monthly cost budget filtered to the Bedrock service names. Set false to use the module only for tag budgets (one per tenant, cost centre or application)."
  type        = bool
  default     = true
}

variable "service_budget_limit_usd" {
  description = "Monthly limit in USD of the account-wide Bedrock budget. Required when create_service_budget is true."
  type        = number
  default     = null

  validation {
    condition     = var.service_budget_limit_usd == null || try(var.service_budget_limit_usd > 0, false)
    error_message = "service_budget_limit_usd must be a positive number of US dollars (for example 500), or null when create_service_budget is false."
  }
}

variable "service_names" {
  description = "Cost Explorer SERVICE values of the first-party Bedrock service. \"Amazon Bedrock\" covers Amazon's own models and the models Bedrock bills directly (for example Amazon Nova and Titan, Meta, Mistral, DeepSeek)."
  type        = list(string)
  default     = ["Amazon Bedrock"]

  validation {
    condition     = length(var.service_names) > 0 && alltrue([for s in var.service_names : length(trimspace(s)) > 0])
    error_message = "service_names needs at least one non-empty Cost Explorer service name, normally \"Amazon Bedrock\"."
  }
}

variable "marketplace_service_names" {
  description = "Cost Explorer SERVICE values of third-party models sold through Bedrock. Those models (Anthropic's Claude among them) are billed by AWS Marketplace, one service per model named \"<model> (Amazon Bedrock Edition)\", not under \"Amazon Bedrock\". The default lists the Claude editions; list your account's names with `aws ce get-dimension-values --dimension SERVICE --search-string \"Amazon Bedrock Edition\" --time-period Start=<yyyy-mm-01>,End=<yyyy-mm-dd>` and add new models here, or a budget misses their spend."
  type        = list(string)
  default = [
    "Claude (Amazon Bedrock Edition)",
    "Claude Instant (Amazon Bedrock Edition)",
    "Claude 3 Haiku (Amazon Bedrock Edition)",
    "Claude 3 Sonnet (Amazon Bedrock Edition)",
    "Claude 3 Opus (Amazon Bedrock Edition)",
    "Claude 3.5 Haiku (Amazon Bedrock Edition)",
    "Claude 3.5 Sonnet (Amazon Bedrock Edition)",
    "Claude 3.5 Sonnet v2 (Amazon Bedrock Edition)",
    "Claude 3.7 Sonnet (Amazon Bedrock Edition)",
    "Claude Sonnet 4 (Amazon Bedrock Edition)",
    "Claude Opus 4 (Amazon Bedrock Edition)",
    "Claude Opus 4.1 (Amazon Bedrock Edition)",
    "Claude Sonnet 4.5 (Amazon Bedrock Edition)",
    "Claude Haiku 4.5 (Amazon Bedrock Edition)",
    "Claude Opus 4.5 (Amazon Bedrock Edition)",
    "Claude Sonnet 4.6 (Amazon Bedrock Edition)",
    "Claude Opus 4.6 (Amazon Bedrock Edition)",
  ]

  validation {
    condition     = alltrue([for s in var.marketplace_service_names : length(trimspace(s)) > 0])
    error_message = "marketplace_service_names entries must be non-empty Cost Explorer service names such as \"Claude Sonnet 4.5 (Amazon Bedrock Edition)\"."
  }
}

variable "include_credits" {
  description = "Let credits reduce the spend the budgets track. Off by default: a budget that counts credits can sit at zero while Bedrock usage runs, and Marketplace-billed models are not covered by promotional credits anyway."
  type        = bool
  default     = false
}

# Tag budgets -----------------------------------------------------------------------------------

variable "tag_budgets" {
  description = <<-EOT
    Monthly cost budgets filtered by one cost allocation tag, keyed by a short name (the budget is
    named <name>-<key>). tag_key and tag_value are the tag as set on the resources (for Bedrock,
    on application inference profiles); the tag key must be activated as a cost allocation tag.
    restrict_to_services also filters on service_names and marketplace_service_names, for tags that
    other services' resources carry too. notifications overrides the module-wide notifications.
  EOT
  type = map(object({
    limit_usd            = number
    tag_key              = string
    tag_value            = string
    restrict_to_services = optional(bool, false)
    notifications = optional(list(object({
      threshold           = number
      notification_type   = optional(string, "ACTUAL")
      threshold_type      = optional(string, "PERCENTAGE")
      comparison_operator = optional(string, "GREATER_THAN")
    })))
  }))
  default = {}

  validation {
    condition     = alltrue([for key in keys(var.tag_budgets) : can(regex("^[A-Za-z0-9_.-]{1,50}$", key))])
    error_message = "tag_budgets keys must be 1-50 letters, digits, dots, hyphens or underscores (they become part of the budget name)."
  }

  validation {
    condition     = alltrue([for b in values(var.tag_budgets) : b.limit_usd > 0])
    error_message = "Every tag budget needs limit_usd > 0 (US dollars per month)."
  }

  validation {
    condition = alltrue([
      for b in values(var.tag_budgets) :
      can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{1,128}$", b.tag_key)) && !startswith(lower(b.tag_key), "aws:")
    ])
    error_message = "tag_key must be a user-defined tag key (1-128 letters, digits, spaces or _.:/=+-@, not starting with \"aws:\"), for example \"costCenter\"."
  }

  validation {
    condition = alltrue([
      for b in values(var.tag_budgets) : can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]{0,256}$", b.tag_value))
    ])
    error_message = "tag_value must be at most 256 letters, digits, spaces or _.:/=+-@ (no \"$\", which Budgets uses to separate key and value)."
  }

  validation {
    condition = alltrue(flatten([
      for b in values(var.tag_budgets) : [
        for n in(b.notifications != null ? b.notifications : []) : [
          contains(["ACTUAL", "FORECASTED"], n.notification_type),
          contains(["PERCENTAGE", "ABSOLUTE_VALUE"], n.threshold_type),
          contains(["GREATER_THAN", "LESS_THAN", "EQUAL_TO"], n.comparison_operator),
          n.threshold > 0 && (n.threshold_type != "PERCENTAGE" || n.threshold <= 1000),
        ]
      ]
    ]))
    error_message = "Tag budget notifications: notification_type ACTUAL or FORECASTED, threshold_type PERCENTAGE or ABSOLUTE_VALUE, comparison_operator GREATER_THAN, LESS_THAN or EQUAL_TO, threshold > 0 (at most 1000 for a percentage)."
  }

  validation {
    condition     = alltrue([for b in values(var.tag_budgets) : length(b.notifications != null ? b.notifications : []) <= 10])
    error_message = "A budget can have at most 10 notifications."
  }
}

# Notifications ---------------------------------------------------------------------------------

variable "notifications" {
  description = "Notifications of every budget (unless a tag budget sets its own): ACTUAL or FORECASTED spend crossing a threshold, a percentage of the limit (PERCENTAGE) or US dollars (ABSOLUTE_VALUE). Each goes to the topic and to subscriber_email_addresses."
  type = list(object({
    threshold           = number
    notification_type   = optional(string, "ACTUAL")
    threshold_type      = optional(string, "PERCENTAGE")
    comparison_operator = optional(string, "GREATER_THAN")
  }))
  default = [
    { notification_type = "ACTUAL", threshold = 50 },
    { notification_type = "ACTUAL", threshold = 80 },
    { notification_type = "ACTUAL", threshold = 90 },
    { notification_type = "ACTUAL", threshold = 100 },
    { notification_type = "FORECASTED", threshold = 100 },
  ]

  validation {
    condition     = length(var.notifications) <= 10
    error_message = "A budget can have at most 10 notifications."
  }

  validation {
    condition     = alltrue([for n in var.notifications : contains(["ACTUAL", "FORECASTED"], n.notification_type)])
    error_message = "notification_type must be ACTUAL (spend so far) or FORECASTED (spend forecast for the month)."
  }

  validation {
    condition     = alltrue([for n in var.notifications : contains(["PERCENTAGE", "ABSOLUTE_VALUE"], n.threshold_type)])
    error_message = "threshold_type must be PERCENTAGE (of the budget limit) or ABSOLUTE_VALUE (US dollars)."
  }

  validation {
    condition     = alltrue([for n in var.notifications : contains(["GREATER_THAN", "LESS_THAN", "EQUAL_TO"], n.comparison_operator)])
    error_message = "comparison_operator must be GREATER_THAN, LESS_THAN or EQUAL_TO."
  }

  validation {
    condition     = alltrue([for n in var.notifications : n.threshold > 0 && (n.threshold_type != "PERCENTAGE" || n.threshold <= 1000)])
    error_message = "threshold must be > 0, and at most 1000 when threshold_type is PERCENTAGE (1000 = ten times the limit)."
  }

  validation {
    condition = length(var.notifications) == length(distinct([
      for n in var.notifications : "${n.notification_type}/${n.threshold_type}/${n.comparison_operator}/${n.threshold}"
    ]))
    error_message = "notifications must not repeat the same notification_type, threshold_type, comparison_operator and threshold; Budgets rejects duplicates."
  }
}

variable "subscriber_email_addresses" {
  description = "Email addresses every notification (and the budget action) is sent to, besides the topic. Budgets allows at most 10."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.subscriber_email_addresses) <= 10
    error_message = "Budgets allows at most 10 email subscribers per notification; subscribe more people to the topic instead."
  }

  validation {
    condition     = alltrue([for e in var.subscriber_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each subscriber_email_addresses entry must be an email address such as finops@example.com."
  }
}

variable "create_sns_topic" {
  description = "Create the notification topic, its policy (Budgets of this account may publish) and its KMS key (Budgets may use it). Set false to pass sns_topic_arn, or to notify by email only."
  type        = bool
  default     = true
}

variable "sns_topic_arn" {
  description = "Existing topic to notify when create_sns_topic is false; it must be in the budgets' account. Its access policy must let budgets.amazonaws.com sns:Publish, and if it is encrypted its key policy must let budgets.amazonaws.com kms:GenerateDataKey* and kms:Decrypt (see README)."
  type        = string
  default     = null

  validation {
    condition     = var.sns_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.sns_topic_arn))
    error_message = "sns_topic_arn must be a standard SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:budget-alerts (Budgets cannot publish to FIFO topics)."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the topic's KMS key is deleted after the module stops managing it."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30 && floor(var.kms_key_deletion_window_in_days) == var.kms_key_deletion_window_in_days
    error_message = "kms_key_deletion_window_in_days must be a whole number of days from 7 to 30."
  }
}

# Budget action ---------------------------------------------------------------------------------

variable "budget_action" {
  description = <<-EOT
    Optional native budget action (APPLY_IAM_POLICY): when spend crosses threshold, Budgets attaches
    a deny policy to the given IAM users, roles and groups (names, optionally with path, not ARNs).
    Give either policy_arn (an existing managed policy, such as the alarm enforcer's
    deny_policy_arn) or policy_json (the module then creates its own copy, such as from the
    enforcer's deny_policy_json, so that the enforcer's releases never detach it; see README).
    budget_key null targets the account-wide Bedrock budget, else the tag budget with that key.
    approval_model AUTOMATIC applies the policy at once, MANUAL waits for approval in the console.
  EOT
  type = object({
    policy_arn        = optional(string)
    policy_json       = optional(string)
    users             = optional(list(string), [])
    roles             = optional(list(string), [])
    groups            = optional(list(string), [])
    threshold         = number
    threshold_type    = optional(string, "PERCENTAGE")
    notification_type = optional(string, "ACTUAL")
    approval_model    = optional(string, "AUTOMATIC")
    budget_key        = optional(string)
  })
  default = null

  validation {
    condition     = var.budget_action == null || try((var.budget_action.policy_arn == null) != (var.budget_action.policy_json == null), false)
    error_message = "budget_action needs exactly one of policy_arn (an existing deny policy) or policy_json (a policy document the module creates)."
  }

  validation {
    condition     = var.budget_action == null || try(var.budget_action.policy_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/([!-~]+/)?[A-Za-z0-9_+=,.@-]+$", var.budget_action.policy_arn)), false)
    error_message = "budget_action.policy_arn must be a managed policy ARN such as arn:aws:iam::123456789012:policy/bedrock-guard-deny."
  }

  validation {
    condition     = var.budget_action == null || try(var.budget_action.policy_json == null || can(jsondecode(var.budget_action.policy_json).Statement), false)
    error_message = "budget_action.policy_json must be a JSON IAM policy document with a Statement."
  }

  validation {
    condition     = var.budget_action == null || try(length(concat(var.budget_action.users, var.budget_action.roles, var.budget_action.groups)) > 0, false)
    error_message = "budget_action needs at least one user, role or group to apply the policy to."
  }

  validation {
    condition = var.budget_action == null || try(alltrue([
      for principal in concat(var.budget_action.users, var.budget_action.roles, var.budget_action.groups) :
      can(regex("^([!-~]+/)?[A-Za-z0-9_+=,.@-]{1,128}$", principal)) && !startswith(principal, "arn:")
    ]), false)
    error_message = "budget_action users, roles and groups are IAM names (optionally path/name), not ARNs, for example \"bedrock-app\" or \"teams/bedrock-app\"."
  }

  validation {
    condition     = var.budget_action == null || try(length(var.budget_action.users) <= 100 && length(var.budget_action.roles) <= 100 && length(var.budget_action.groups) <= 100, false)
    error_message = "A budget action takes at most 100 users, 100 roles and 100 groups."
  }

  validation {
    condition     = var.budget_action == null || try(contains(["PERCENTAGE", "ABSOLUTE_VALUE"], var.budget_action.threshold_type), false)
    error_message = "budget_action.threshold_type must be PERCENTAGE (of the budget limit) or ABSOLUTE_VALUE (US dollars)."
  }

  validation {
    condition     = var.budget_action == null || try(var.budget_action.threshold > 0 && (var.budget_action.threshold_type != "PERCENTAGE" || var.budget_action.threshold <= 1000), false)
    error_message = "budget_action.threshold must be > 0, and at most 1000 when threshold_type is PERCENTAGE."
  }

  validation {
    condition     = var.budget_action == null || try(contains(["ACTUAL", "FORECASTED"], var.budget_action.notification_type), false)
    error_message = "budget_action.notification_type must be ACTUAL or FORECASTED."
  }

  validation {
    condition     = var.budget_action == null || try(contains(["AUTOMATIC", "MANUAL"], var.budget_action.approval_model), false)
    error_message = "budget_action.approval_model must be AUTOMATIC (apply at once) or MANUAL (wait for approval)."
  }
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary for the budget action's execution role, or null."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary))
    error_message = "permissions_boundary must be a managed policy ARN such as arn:aws:iam::123456789012:policy/boundary."
  }
}
