"""The source each figure of a child's case cites, shown beside every deadline ("every deadline names the rule it
came from"): statute, guidance or local practice. The figures themselves are process_rules.py's settings."""

# The source of each figure, shown beside every deadline ("every deadline names the rule it came from").
RULE_NOTIFICATION = (
    "Notify the National Panel within {n} working days of becoming aware of a serious incident "
    "(Children Act 2004 s16C; Working Together to Safeguard Children 2023, ch. 5)"
)


RULE_RAPID_REVIEW = (
    "Rapid review to the National Panel within {n} working days of the {start} "
    "(Working Together 2023, ch. 5; National Panel guidance 2022/2025)"
)


RULE_CARE_LEAVER_REVIEW = (
    "The partners chose to review a care leaver's death: {n} working days from the {start} as local practice (a care "
    "leaver of 18 to 24 is not a child, so no statutory rapid review applies: Working Together 2023, ch. 5)"
)


RULE_MILESTONE = (
    "Partnership milestone: {what} by working day {n} of the {total}-day rapid review window (local setting)"
)


RULE_PANEL_REPLY = "National Panel reply expected within about {n} working days of submission (local setting)"


RULE_CSPR = (
    "Local CSPR completed and published within {n} months of the decision to undertake it "
    "(Working Together 2023, ch. 5)"
)


RULE_CSPR_REVISED = (
    "Revised target agreed by the safeguarding partners ({reason}); the statutory date stays {statutory} and the "
    "National Panel and the Secretary of State are told of the delay (Working Together 2023, ch. 5)"
)


RULE_PUBLICATION_NOTICE = (
    "Final report to the National Panel and the Secretary of State at least {n} working days before "
    "publication (SI 2018/789 regs 15-16: the final report to the Panel and the Secretary of State, and its "
    "publication; reg. 14 is about monitoring a review, not this)"
)


RULE_COMMISSION = (
    "Reviewer commissioned within {n} working days of the decision to undertake the review "
    "(partnership practice: the most common cause of late reviews)"
)


RULE_METHODOLOGY = "Executive decides how the review will take place within {n} working days (local setting)"


RULE_SIN_THREE_WAY = (
    "The local authority notifies the National Panel; all three safeguarding partners should agree which incidents "
    "are notified (Children Act 2004 s16C; National Panel, FAQ for safeguarding partners)"
)


RULE_LOOKED_AFTER_DEATH = (
    "The death of a looked-after child is notified even where abuse or neglect is not known or suspected; the "
    "category never removes the rapid review, whose criteria are a separate question (gov.uk 'Report a serious "
    "child safeguarding incident', now 'Report the death or serious harm of a child or care leaver')"
)


RULE_CARE_LEAVER_DEATH = (
    "The death of a care leaver up to and including age 24 is notified to the Secretary of State and Ofsted; the "
    "partners may still choose a rapid review and a local CSPR (gov.uk 'Report a serious child safeguarding "
    "incident'; Working Together 2023, ch. 5)"
)


RULE_CHILDREN_PER_NOTIFICATION = (
    "One notification covers up to {n} children of one incident (gov.uk 'Report a serious child safeguarding "
    "incident')"
)


RULE_LEARNING_WITHOUT_CSPR = (
    "No local CSPR: the partners may still take the learning forward another way (single-agency review, audit, "
    "workshop, thematic review), its actions in the one action plan (Working Together 2023, ch. 5: rapid reviews "
    "and local learning; partnership practice)"
)


RULE_ONE_YEAR_ON = "Learning workshop one year after publication (partnership practice)"


RULE_SIN_LA_DECIDES = (
    "The duty to notify rests with the local authority (Children Act 2004 s16C(1)): police and health answer its "
    "proposal within {n} working days (local practice, a partnership setting), never after the notification is "
    "due; a partner that has not answered by then, or disagrees, is recorded, and the local authority's seat decides"
)

