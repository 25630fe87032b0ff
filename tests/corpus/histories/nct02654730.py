"""NCT02654730: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 2 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02654730__2016-08-21.xml | 252db883cbebae763666530b9bc98bfbe4a1a46f | 2016-08-21 | (lastchanged) 2016-01-11 |
| NCT02654730__2018-05-11.xml | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2016-09-09 (submitted 2016-09-08) |

The index holds 7 versions of the file. None of the commits listed for the search holds the 2016
one: the index names 252db883 when the file is read without a commit.

What differs, as read in the files: the sponsor's update of 2016-09-08 terminated the trial
("Enrollment took longer than anticipated; ... impossible to recruit the final cohort (G6PDd
0.4mg/kg PQ)"): status Recruiting → Terminated (critical); primary completion June 2016
anticipated → September 2016 actual, about 92 days (major, ≥ 90); completion August 2016 →
December 2016, still anticipated, about 122 days (minor); enrollment 70 anticipated → 61 actual,
−13 % and the type (major); both central contacts removed (one event, 2 members, minor); the one
site (MRC Laboratories, Fajara) loses its status "Recruiting" and its two contacts (one site event,
minor, contacts folded in); the five interventions renamed, each losing its last word
"individuals" (five renames, info). The rest is the registry's: one-line `<study_design>` →
`<study_design_info>` (same values), `<safety_issue>` and `<authority>` dropped, the detailed
description re-wrapped, old date tags replaced by the new ones.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02654730.xml"

V2016 = "NCT02654730__2016-08-21.xml"
V2018 = "NCT02654730__2018-05-11.xml"

CAPTURES = (
    Capture(V2016, AACT, PATH, "252db883cbebae763666530b9bc98bfbe4a1a46f", chars=16753, full_chars=16753),
    Capture(V2018, AACT, PATH, "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72", chars=16725, full_chars=16725),
)
PAIRS = (
    Pair(
        "nct02654730-xml-terminated",
        "real",
        (V2016, V2018),
        "recruiting → terminated (slow enrollment): primary completion 3 months later and actual,"
        " completion 4 months later, enrollment 70 estimated → 61 actual, central contacts and the"
        " site's status and contacts gone, five interventions renamed",
        real_captures(V2016, V2018),
        (
            ("status", "critical", 1),
            ("dates", "major", 1),
            ("dates", "minor", 1),
            ("enrollment", "major", 1),
            ("contacts", "minor", 2),
            ("sites", "minor", 1),
            ("arms", "info", 1),
            ("arms", "info", 1),
            ("arms", "info", 1),
            ("arms", "info", 1),
            ("arms", "info", 1),
        ),
    ),
)
