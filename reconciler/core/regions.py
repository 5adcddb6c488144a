"""Neon's region ids: the one table manifests are validated against.

Source: Neon's regions page (https://neon.com/docs/introduction/regions), which the OpenAPI
document points to for "supported regions and ``region_id`` values"; the document itself has no
enum, only examples (``aws-us-east-1``, ``aws-us-east-2``), and
``tests/core/test_regions.py`` checks that every region id it mentions is in this table.
``GET /regions?org_id=`` lists the regions open to one org; an org may see fewer than these.

When Neon opens a region, add it here: a manifest naming a region missing from this table
fails ``fleet validate``, which is what turns a typo (``aws-us-east-9``) into an error at
validate time instead of a failed create at apply time.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Region id → where it is.
NEON_REGIONS: Mapping[str, str] = {
    "aws-us-east-1": "AWS US East (N. Virginia)",
    "aws-us-east-2": "AWS US East (Ohio)",
    "aws-us-west-2": "AWS US West (Oregon)",
    "aws-eu-central-1": "AWS Europe (Frankfurt)",
    "aws-eu-west-2": "AWS Europe (London)",
    "aws-ap-southeast-1": "AWS Asia Pacific (Singapore)",
    "aws-ap-southeast-2": "AWS Asia Pacific (Sydney)",
    "aws-sa-east-1": "AWS South America (São Paulo)",
    "azure-eastus2": "Azure East US 2 (Virginia)",
    "azure-westus3": "Azure West US 3 (Arizona)",
    "azure-gwc": "Azure Germany West Central (Frankfurt)",
}
