"""NCT00513591: classic XML downloads by AACT (ctti-clinicaltrials/aact, MIT) on 3 dates.

| file | path | commit | download date | last update |
|---|---|---|---|---|
| NCT00513591__2016-06-29.xml | `NCT00513591_redownloaded.xml` | 0a4d7c1bc7a809f174e26859a3f5714646452071 | 2016-06-29 | (lastchanged) 2016-06-14 |
| NCT00513591__2017-10-20.xml | `NCT00513591.xml` | 140a133b6219d5036b7e703a003fc88d57b42d34 | 2017-10-20 | 2017-06-16 |
| NCT00513591__2018-05-11.xml | `NCT00513591.xml` | db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72 | 2018-05-11 | 2017-06-16 |

Both paths are under ``spec/support/xml_data/``. The source index counts 7 versions of
``NCT00513591.xml`` and 2 of ``NCT00513591_redownloaded.xml`` but names them only at the commits
above. The 2016 file carries ``<gender_based>false</gender_based>`` and
``<gender_description>test</gender_description>``, which look like a fixture edit; the converter
reads neither. The 2017 → 2018 pair (same version) is ``nct00513591-xml-2017-10-to-2018-05`` in
``pairs.py``.

What differs, 2016-06-29 → 2017-10-20, as read in the files (the sponsor's update of June 2017):

- enrollment 500 → 1000, both anticipated: +100 %, major;
- primary completion December 2017 → June 2018, both anticipated: 182 days, major (≥ 90);
- completion date June 2018 (anticipated) stated for the first time: minor;
- no event: the design, written in 2016 as one ``<study_design>`` line ("Observational Model:
  Cohort, Time Perspective: Prospective"), is the same as the 2017 ``<study_design_info>``; the
  summary, description and one criterion re-wrapped; oversight authority, ``is_fda_regulated``,
  MeSH terms, verification and last-changed dates are bookkeeping or not compared.
"""

from ..model import Capture, Pair, real_captures

AACT = "ctti-clinicaltrials/aact"
PATH = "spec/support/xml_data/NCT00513591.xml"
REDOWNLOADED = "spec/support/xml_data/NCT00513591_redownloaded.xml"

CAPTURES = (
    Capture(
        "NCT00513591__2016-06-29.xml",
        AACT,
        REDOWNLOADED,
        "0a4d7c1bc7a809f174e26859a3f5714646452071",
        chars=7800,
        full_chars=7800,
    ),
    Capture(
        "NCT00513591__2017-10-20.xml",
        AACT,
        PATH,
        "140a133b6219d5036b7e703a003fc88d57b42d34",
        chars=8386,
        full_chars=8386,
    ),
    Capture(
        "NCT00513591__2018-05-11.xml",
        AACT,
        PATH,
        "db7f9efedcf1fc1ed3b4cc0f4918e747e7fc2f72",
        chars=8964,
        full_chars=8964,
    ),
)

PAIRS = (
    Pair(
        "nct00513591-xml-2016-06-to-2017-10",
        "real",
        ("NCT00513591__2016-06-29.xml", "NCT00513591__2017-10-20.xml"),
        "sponsor update of June 2017: enrollment 500 → 1000, primary completion December 2017 → June"
        " 2018 (182 days), completion June 2018 first stated; the 2016 one-line design and re-wrapped"
        " texts read the same",
        real_captures("NCT00513591__2016-06-29.xml", "NCT00513591__2017-10-20.xml"),
        (
            ("enrollment", "major", 1),
            ("dates", "major", 1),
            ("dates", "minor", 1),
        ),
    ),
)
