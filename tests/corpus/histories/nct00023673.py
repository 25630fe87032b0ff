"""NCT00023673: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

RTOG L-0117, a completed phase I/II radiotherapy study with 37 sites and posted results; both
versions are kept up to the ``<clinical_results>`` line.

| file | commit | download date | last update |
|---|---|---|---|
| NCT00023673__2016-08-04.xml | 00a38fd19e682161c8c30516a169aaf1e29f4646 | 2016-08-04 | lastchanged 2015-11-14 |
| NCT00023673__2018-05-11.xml | 4436854f6e0b5c368d0009a7d53414207d60bc73 | 2018-05-11 | posted 2017-12-22 |

The source index names no other version of this file at the commits probed.

What differs, as read in the files (the sponsor updated the record on 2017-11-27):

- registry format: the one-line ``<study_design>`` of 2016 became ``<study_design_info>`` (the same
  four values), gender "Both" → "All", ``safety_issue``, ``oversight_info`` and
  ``is_fda_regulated`` dropped, old date names replaced, one paragraph of the detailed description
  re-wrapped. No event (the converter reads both vocabularies).
- primary outcome 1: its description corrects "RTOG (Radiation Therapy Oncolgy Group)" to
  "Radiation Therapy Oncology Group (RTOG)": a primary outcome description edited, major.
- secondary outcomes: 3 → 4. "Toxicity" is gone, removed after the study ended: major.
  "Partial Organ Tolerance Doses for Lung and Esophagus" reworded to "... (Mean Organ Dose by
  Toxicity Level)" and "Complete Response Rate at 3 Months After Therapy" to "Number of Patients
  With Complete Response at 3 Months After Completion of Therapy" (each less than 85 % alike: a
  reworded secondary measure, minor, one event each, as the identity rules rate a rewording like
  a change of that outcome); "Frequency of Highest Grade Chemotherapy/Acute RT Toxicities and Late
  RT Toxicities." and "... (Percent Volume of Total Lung Receiving > 20 Gy by Toxicity Level)"
  added (one event, 2 outcomes, minor); the two reworded outcomes gain a description (one event,
  2 outcomes, minor) and get new time frames (one event, 2 outcomes, minor).
- sites: the same 37; three city names corrected ("Mt. Vernon" → "Mount Vernon", "Gape Girardeau"
  → "Cape Girardeau", "St. Louis" → "Saint Louis"; same facility and postal code), and two sites
  listed in another order: one site-city event, 3 sites, info.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT00023673.xml"

CAPTURES = (
    Capture(
        "NCT00023673__2016-08-04.xml",
        AACT,
        PATH,
        "00a38fd19e682161c8c30516a169aaf1e29f4646",
        chars=29627,
        full_chars=101793,
    ),
    Capture(
        "NCT00023673__2018-05-11.xml",
        AACT,
        PATH,
        "4436854f6e0b5c368d0009a7d53414207d60bc73",
        chars=33802,
        full_chars=136006,
    ),
)

PAIRS = (
    Pair(
        "nct00023673-xml-2016-08-to-2018-05",
        "real",
        ("NCT00023673__2016-08-04.xml", "NCT00023673__2018-05-11.xml"),
        "completed study updated in 2017: 'Toxicity' secondary outcome dropped, two reworded, two added;"
        " a typo fixed in a primary outcome description; three site cities corrected; 2016 design line"
        " and 'Both' in the later vocabulary",
        real_captures("NCT00023673__2016-08-04.xml", "NCT00023673__2018-05-11.xml"),
        (
            ("outcomes", "major", 1),  # primary outcome description edited
            ("outcomes", "major", 1),  # secondary "Toxicity" removed after the study ended
            ("outcomes", "minor", 2),  # two secondary outcomes added
            ("outcomes", "minor", 1),  # secondary measure reworded
            ("outcomes", "minor", 1),  # secondary measure reworded
            ("outcomes", "minor", 2),  # descriptions added to the two reworded outcomes
            ("outcomes", "minor", 2),  # their time frames edited
            ("sites", "info", 3),  # three city names corrected
        ),
    ),
)
