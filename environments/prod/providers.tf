# One provider per environment. Point it at any account by assuming a role there; the modules
# build every ARN from the partition, region and account the provider runs in.
provider "aws" {
  region = var.region

  dynamic "assume_role" {
    for_each = var.assume_role_arn == null ? [] : [var.assume_role_arn]

    content {
      role_arn     = assume_role.value
      session_name = "bedrock-cost-guard-${var.environment}"
    }
  }

  default_tags {
    tags = merge(var.tags, {
      Project     = "bedrock-cost-guard"
      Environment = var.environment
    })
  }
}
