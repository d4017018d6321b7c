# The supported range of Terraform and the AWS provider: the one source of truth.
# modules/*/versions.tf declare only the minimums of this range; environments/*/versions.tf
# repeat it exactly. tests/terraform/test_versions.py keeps the three consistent.
terraform {
  required_version = ">= 1.7, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "~> 2.5" # 2.5 added glob patterns to archive_file excludes
    }
  }
}
