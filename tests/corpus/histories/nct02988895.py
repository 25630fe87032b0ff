"""NCT02988895: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02988895__2016-12-09.xml | 25357cbfe72bb932c430ee9c22ff2d7c748bf407 | 2016-12-09 | (old tags) 2016-12-07 |
| NCT02988895__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2018-03-08 |

The index holds no other version of the file at the commits probed.

What differs, as read in the files: in December 2016 the record was the registry's placeholder for
a trial of a device not yet approved or cleared by the FDA: titles "[Trial of device that is not
approved or cleared by the U.S. FDA]", sponsor "[Redacted]", status "Withheld", start January 2017,
phase and study type "N/A", nothing else. In 2018 the full record is public: Salutaris Medical
Devices' NEAMES study of episcleral brachytherapy for wet AMD, recruiting at one site in Hawaii,
started August 1, 2017 (actual), 1 primary and 7 secondary outcomes, one arm, two interventions
(Radiation: episcleral brachytherapy; Drug: Anti-VEGF), 31 criteria, 20 participants estimated.

Read by the rules (the later version recruiting): status Withheld → Recruiting, not a forward step
(major); primary outcome added once recruiting (critical; here a disclosure, not a switch, but the
rule reads the same); 7 secondary outcomes added (one minor event); arm added and interventions
added while recruiting (major; the two interventions are items of one list, one event of 2);
phase and study type stated (major each); enrollment 20 with its type stated (major); criteria
from none to 31 items (rewrite, major, 31 members); start January 2017 → August 1, 2017 actual,
about 7 months (minor, no start threshold); both completion dates added (minor); conditions added
(minor); the study design stated whole, model, purpose and masking (one minor event of 3);
keywords and DMC (info); minimum age, sex and healthy volunteers, the eligibility module stated
whole (one minor event of 3); site and its country added (minor each); central contact added
(minor); lead sponsor named (minor); both titles (minor); acronym (info); summary and
description, the description module stated whole (one info event of 2).

The two interventions added together are one event of 2 (trialwatch once reported them apart,
31 events, over the 30 of one screen). The fields of an object the earlier version did not have
at all aggregate per severity (they were 7 events until NCT01341288, another placeholder made
public, came to 33): 25 events.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02988895.xml"

CAPTURES = (
    Capture(
        "NCT02988895__2016-12-09.xml", AACT, PATH, "25357cbfe72bb932c430ee9c22ff2d7c748bf407", 1785, 1785
    ),
    Capture(
        "NCT02988895__2018-05-11.xml", AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", 11606, 11606
    ),
)

WITHHELD_TO_PUBLIC = Pair(
    "nct02988895-xml-withheld-to-public",
    "real",
    ("NCT02988895__2016-12-09.xml", "NCT02988895__2018-05-11.xml"),
    "withheld device-trial placeholder, then the full record, recruiting",
    real_captures("NCT02988895__2016-12-09.xml", "NCT02988895__2018-05-11.xml"),
    (
        ("status", "major", 1),
        ("outcomes", "critical", 1),
        ("outcomes", "minor", 7),
        ("arms", "major", 1),
        ("arms", "major", 2),
        ("design", "major", 1),
        ("design", "major", 1),
        ("enrollment", "major", 1),
        ("eligibility", "major", 31),
        ("dates", "minor", 1),
        ("dates", "minor", 1),
        ("dates", "minor", 1),
        ("design", "minor", 1),
        ("design", "minor", 3),
        ("design", "info", 1),
        ("design", "info", 1),
        ("eligibility", "minor", 3),
        ("sites", "minor", 1),
        ("sites", "minor", 1),
        ("contacts", "minor", 1),
        ("sponsor", "minor", 1),
        ("identity", "minor", 1),
        ("identity", "minor", 1),
        ("identity", "info", 1),
        ("other", "info", 2),
    ),
)

PAIRS = (WITHHELD_TO_PUBLIC,)
