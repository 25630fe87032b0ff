"""NCT02389088: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 4 dates.

| file | commit | download date | last update posted |
|---|---|---|---|
| NCT02389088__2016-08-04.xml | 620467fdf7a356614b1eb81b2cc93e123e7296b7 | 2016-08-04 | (lastchanged) 2016-02-09 |
| NCT02389088__2016-12-06.xml | 438e3d641dc3b424d06ad7405617ee5c769006cb | 2016-12-06 | (lastchanged) 2016-02-09 |
| NCT02389088__2017-01-18.xml | b235ad2b03776be4644582307e4b77356153987b | 2017-01-18 | (lastchanged) 2016-02-09 |
| NCT02389088__2018-05-11.xml | 697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e | 2018-05-11 | 2016-03-10 (submitted 2016-02-09) |

The index holds 7 versions of the file; of the commits probed three name one, and the file read
without a commit names the fourth (438e3d64). The record holds posted results (47–50 kB), so each
file is kept up to the `<clinical_results>` line.

What differs, pair by pair, as read in the files (one sponsor version throughout, completed in
January 2013, results posted in 2015):

- 2016-08 → 2016-12: the schema's DTD line dropped from the header comment and
  `<last_known_status>Completed</last_known_status>` added. No event.
- 2016-12 → 2017-01: the registry's new layout. The one-line `<study_design>` ("Allocation:
  Non-Randomized, Intervention Model: Single Group Assignment, Masking: Open Label, Primary
  Purpose: Health Services Research") becomes `<study_design_info>` with the same four values;
  `<safety_issue>`, `<authority>`, `is_fda_regulated` and `is_section_801` are gone,
  `has_expanded_access` moves, `<last_known_status>` is gone again. No event.
- 2017-01 → 2018-05: masking "Open Label" → "None (Open Label)", the detailed description and one
  criterion re-wrapped, old date tags replaced by the new ones, MeSH comments re-padded. No event.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT02389088.xml"

V2016 = "NCT02389088__2016-08-04.xml"
V2016B = "NCT02389088__2016-12-06.xml"
V2017 = "NCT02389088__2017-01-18.xml"
V2018 = "NCT02389088__2018-05-11.xml"

CAPTURES = (
    Capture(V2016, AACT, PATH, "620467fdf7a356614b1eb81b2cc93e123e7296b7", chars=12273, full_chars=46982),
    Capture(V2016B, AACT, PATH, "438e3d641dc3b424d06ad7405617ee5c769006cb", chars=12242, full_chars=49616),
    Capture(V2017, AACT, PATH, "b235ad2b03776be4644582307e4b77356153987b", chars=11982, full_chars=49192),
    Capture(V2018, AACT, PATH, "697adc0c46ec88b4dc2f22ed5fda4fc6270f6f8e", chars=13276, full_chars=50486),
)
PAIRS = (
    Pair(
        "nct02389088-xml-2016-08-to-2016-12",
        "real",
        (V2016, V2016B),
        "same version (last changed 2016-02-09); last known status added, DTD line dropped",
        real_captures(V2016, V2016B),
        (),
    ),
    Pair(
        "nct02389088-xml-2016-12-to-2017-01",
        "real",
        (V2016B, V2017),
        "same version (last changed 2016-02-09); the one-line study design becomes study_design_info,"
        " safety_issue and oversight authority dropped",
        real_captures(V2016B, V2017),
        (),
    ),
    Pair(
        "nct02389088-xml-2017-01-to-2018-05",
        "real",
        (V2017, V2018),
        "same version (last changed 2016-02-09); masking 'Open Label' → 'None (Open Label)', texts"
        " re-wrapped, old date tags dropped",
        real_captures(V2017, V2018),
        (),
    ),
)
