terraform {
  # Minimums only: the root versions.tf pins the supported range.
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
    # 2.5.0 added glob (**) patterns to archive_file excludes; earlier versions match exact
    # paths only and would silently ship __pycache__ and the local-only subpackages.
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.5"
    }
  }
}
