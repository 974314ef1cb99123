"""The cue table: what the words around a mention say about it.

A rationale is read mention by mention. Each mention has two windows inside its sentence: the words before it and
the words after it, lower-cased, with markdown dropped and every other mention written ``@``. Two tables read them:

- ``STANCE``: what the sentence says about the mention. Rows are tried in order and the first row that matches a
  window speaks for it, so a specific row ("has not been tried": worth exploring) sits above a general one ("is
  not": rejected). A row recommends the mention (with a weight: at least ``DECISION`` is a decision, below it
  evidence) or rejects it.
- ``SCOPE``: whether the sentence counts at all. Every row is checked: a hedge, a question, a condition or a recap
  of what was already done drops the mention; a later step of a plan is kept only when no step before it is.

A new cue is one row here plus one labelled line in the tests. Windows separate words by single spaces and begin
with one, so a pattern opens a word with a space, not ``\b``: the matcher then skips from space to space. Every
pattern runs on a window of at most ``WINDOW`` characters and has no nested unbounded repetition, so reading stays
linear in the rationale's length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["DECISION", "PAST", "SCOPE", "STANCE", "VERB", "WINDOW", "Cue"]

WINDOW: Final = 60
"""Characters of each window (before and after the mention) the patterns see."""

DECISION: Final = 0.8
"""Weights at or above this are decisions ("I'll call X"); below it, evidence ("X has the highest mean")."""

# ---- building blocks (each a regular-expression fragment over normalised text) --------------------------------
_BLOCK = (
    r"that|whether|if|why|because|since|than|about|before|after|until|unless|once|when|not|never|no|but|and|so"
    r"|then|or|which|what|how|rather|instead|without|except"
)
_WORD = rf"(?!(?:{_BLOCK})\b)[\w'@-]+"  # one word (or another mention) that does not open a new clause
_GAP = rf"(?: {_WORD}){{0,4}}"  # up to four such words between a cue and its mention
_ADV = (
    r"(?: (?:just|now|then|first|next|also|instead|definitely|probably|actually|simply|quickly|immediately|finally"
    r"|again|still|go ahead and|go and|try to|start by|begin by|start with|begin with|continue to|keep|to)){0,3}"
)
_VERB = (
    r"(?: (?:choose|choosing|pick|picking|select|selecting|go with|go for|going with|going for|opt for|opting for"
    r"|settle on|stick with|sticking with|switch to|switching to|move to|use|using|call|calling|run|running|invoke"
    r"|invoking|try|trying|press|pressing|push|pull|pulling|play|playing|take|taking|hit|click|clicking|query"
    r"|querying|execute|executing|explore|exploring|exploit|check|checking|consult|consulting|look at|look up"
    r"|look into|ask|asking|open|opening|fetch|fetching|send|sending|place|mark|put|block|blocking|claim|occupy"
    r"|return to|head|move|go|turn|step|walk|confirm|confirming|verify|verifying|review|reviewing|inspect|inspecting"
    r"|read|reading|compute|computing|rerun|retry|restart|rebuild|clean up|book|schedule|cancel|add|create|update"
    r"|delete|remove|record|notify|submit|draft|write|post|reply|forward|search|find|get|list|see|view|pull up"
    r"|scan|measure|merge|deploy|roll back|refund|escalate|assign|dispatch|sync|fire|test|file|lookup|swipe|tap"
    r"|scroll|drag|type|enter|make|craft|build))"
)
PAST: Final = r"[a-z]{2,}(?<!e)ed"
"""A regular past tense ("checked", "patched"; not "need" or "proceed")."""
VERB: Final = re.compile(rf"{_VERB}$")
"""A verb of choice or of a tool's work, given as " word"."""
_DET = r"(?: (?:the|a|an|this|that|our|my|its|their|it|them|button|arm|tool|cell|square|slot|lever|option|door|card|column|row|function|endpoint|command))*"  # noqa: E501
_WILL = (
    r" (?:(?:i|we)(?: will| shall|'ll| am going to|'m going to| are going to|'re going to|'m gonna| am gonna"
    r"|'d(?: still| just| now| first)?)|let me|let's|let us|i'm|we're|i am|we are)"
)
_SHOULD = (
    r" (?:(?:i|we)(?: (?:just|really|still|also|probably|definitely|clearly|simply|now|then|first|honestly))?"
    r"(?: should| must| need to| have to| ought to| want to| would like to| plan to| intend to| decided to| decide to"
    r"|'d like to|'d better| had better|'d rather|'ve decided to| will need to| can(?: now)?(?: safely)?"
    r"(?: go ahead and)?| want| need)"
    r"|(?:it's|it is|it'd be|it would be) (?:best|better|wise|smart|sensible|time|safest|safer|worth it) to"
    r"|(?:best|better|time) to|makes sense to|worth (?:a|trying|using|calling|checking)"
    r"|(?:the )?(?:next|right|best|logical|obvious|first|natural) (?:step|move|thing|action|call|tool)"
    r"(?: (?:is|will be|would be|should be|here is))? to)"
)
_CHOOSE = (
    r" (?:i|we)(?: would| will|'d|'ll)? (?:choose|pick|select|go with|go for|opt for|take|play|press|pull|try|use"
    r"|call|run|recommend|suggest|prefer|favou?r|propose|vote for|settle on|stick with|lean towards?)"
)
_START = r"(?:^|[,:(—>→-]| (?:so|then|now|and|next|first|thus|therefore|hence|instead|finally|please|plan|todo))"
_BEST = (
    r" (?:best|highest|top|greatest|largest|biggest|strongest|most promising|most likely|optimal|ideal|correct"
    r"|smartest|safest|wisest|leading|obvious|logical|natural|winner|leader|preferred|recommended|superior|better"
    r"|most (?:useful|relevant|reliable|appropriate|suitable|direct|efficient|informative)|right|clear favou?rite"
    r"|only (?:option|choice|move|tool|way)|way to go|best bet|safest bet)\b"
)
_GOOD = (
    rf"(?:{_BEST}| (?:good|great|promising|useful|helpful|relevant|reliable|accurate|fresher|faster|cheaper"
    r"|safer|appropriate|suitable|strong|stronger|ahead|leads|wins|dominates|outperforms|beats|the answer"
    r"|what we need|exactly what)\b)"
)
_COPULA = (
    r"(?:'s|'re| is| are| was| were| has| had| looks| seems| appears| remains| shows| gives| gave| offers| yields"
    r"| yielded| provides| tends to| should| would| will| could| might| can| did| does| performs| performed"
    r"| returns| returned| got| earned| paid| stands out| has been| have been| feels| sounds)"
)
_NOT_VERB = (
    rf"{_BLOCK}|is|are|was|were|the|a|an|this|these|those|it|its|i|we|you|they|he|she|my|our|their|with|for|of|in"
    r"|on|at|to|by|as|also|maybe|perhaps|probably|all|both|each|every|some|any|only|just|very|too|nice|great|good"
    r"|cool|awesome|perfect|excellent|ok|okay|thanks|wow|done|bad|sadly|luckily|fortunately|unfortunately|several"
    r"|many|few|most|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|hundred|hundreds"
)
_LINK = (  # words after a subject that make the sentence a statement about it, not an order
    r"is|are|was|were|has|had|have|looks|seems|gave|gives|got|returned|returns|yielded|paid|scored|did|does|will"
    r"|would|should|could|might|can|may|must|beats|wins|performs|remains|appears|vs|versus|leads|won|lost|tends"
    r"|confirms|shows|says|works|fails|needs|goes|takes|makes|covers|contains|includes|matches|lists|reports"
    r"|indicates|suggests|means|tells|helps|handles|supports|requires|uses|runs"
)
_PARTICLES = r"(?: (?:up|down|out|into|for|on|in|with|to|at|over|off|the|a|an|this|that|our|my|its)){0,2}"
# The rest of an order ("... for line 2", "... into the field"): no verb that would make it a statement about the
# mention ("Refunding blindly could reverse ..."), no bracket, or number that ends it or is followed by another number
# or bracket, right after it (a listing: "red 0.4 (3)"; but "book 2:40 with dr kim" is an order).
_ORDER = (
    rf"(?!(?:{_LINK}|or|but|vs|versus|nor)\b|and(?: the)? @|[a-z]+ed\b)(?!\(|[\d.:%]+(?![\d.:%])(?:$|[ ,;]*[\d(]))"
    rf"(?![^;!?@=]*\b(?:{_LINK}|feels|sounds)\b)[^;!?@=]{{0,80}}?"
)
_TRIED = (
    r"(?:tried|explored|pressed|pulled|played|used|sampled|tested|chosen|selected|touched|visited|called|picked"
    r"|checked|queried|run)"
)
_BAD_ADV = r"(?: (?:clearly|probably|definitely|still|also|just|really|too|consistently|already|now))*"

# "Shipping free.", "count high.": a name and one word is a state, not an order (but "Send it.", "Red now.")
_NOT_STATE = r"(?! (?!(?:it|them|this|that|these|those|now|again|first|next|too|please|here|all|both)\b)[a-z]+\.$)"

Effect = Literal["recommend", "reject", "doubt", "past", "later"]


@dataclass(frozen=True, slots=True)
class Cue:
    """One row of a cue table: a pattern for the window before the mention, after it, or both, and its effect.

    A stance row recommends the mention (with a weight) or rejects it; a scope row drops it ("doubt", "past") or
    marks it a "later" step.
    """

    name: str
    effect: Effect
    weight: float  # for "recommend": >= DECISION a decision, below it evidence; 0 otherwise
    before: re.Pattern[str] | None
    after: re.Pattern[str] | None
    alone: bool = False  # counts only if no other action has such a row too (a list of lines is no decision)


def _cue(name: str, effect: Effect, weight: float = 0.0, before: str = "", after: str = "", alone: bool = False) -> Cue:
    """A row; an empty pattern leaves that window unread."""
    if not before and not after:
        raise ValueError(f"cue {name!r}: give a window pattern, before or after or both")
    if not (0.5 <= weight <= 1.0 if effect == "recommend" else weight == 0.0):
        raise ValueError(f"cue {name!r}: recommendations weigh 0.5-1, the other effects 0; got {weight!r}")
    before_pattern = re.compile(f"(?:{before})$") if before else None
    after_pattern = re.compile(f"^(?:{after})") if after else None
    return Cue(name, effect, weight, before_pattern, after_pattern, alone)


# fmt: off
STANCE: Final[tuple[Cue, ...]] = (
    # -- before the mention: rejections first ("rather than X", "no point restarting X"), then decisions, evidence
    _cue("not-but", "recommend", 0.8, before=r" not @,? but(?: rather| instead)?"),
    _cue("loser", "reject",
        before=r" (?:(?:better|stronger|safer|faster|higher|superior|preferable|more \w+|rather) (?:than|over)"
        r"|(?:superior|preferable) to|instead of|rather than|over|beats|outperforms|dominates|not|nor|from)"),
    _cue("negation", "reject",
        before=r" (?:not|never|no|don't|do not|doesn't|does not|won't|will not|wouldn't|shouldn't|should not|can't"
        r"|cannot|mustn't|isn't|avoid|avoiding|skip|skipping|stop|stop using|without|except|besides|other than"
        r"|no point(?: in)?|no need(?: to| for)?|no reason to|pointless|unnecessary|premature|too early to|rule out"
        r"|ruling out|exclude|excluding|refrain from|hold off(?: on)?|against|forget(?: about)?|abandon|ditch"
        r"|steer clear of|stay away from|give up on|move away from|switch(?:ing)? (?:away )?from|away from|unlike"
        rf"|ignore|ignoring|wrong to|mistake to|bad idea to|not yet|neither){_GAP}"),
    _cue("worse-than", "recommend", 0.7, before=r" (?:worse|weaker|poorer|slower|inferior|less \w+) (?:than|to)"),
    _cue("intent", "recommend", 0.9, before=rf"{_WILL}{_ADV}{_VERB}?{_DET}"),
    _cue("choose", "recommend", 0.9, before=rf"{_CHOOSE}{_ADV}{_DET}"),
    _cue("should", "recommend", 0.85, before=rf"{_SHOULD}{_ADV}{_VERB}?{_DET}"),
    _cue("needs-to-be", "recommend", 0.8, before=r" (?:needs|need|has|have|ought) to be| (?:must|should) be"),
    _cue("way-is-to", "recommend", 0.85,
        before=r" (?:best|fastest|quickest|simplest|safest|easiest|cleanest|cheapest|only|right|obvious|sensible"
        r"|smartest|surest|proper) (?:way|option|fix|move|approach|course|path|route|bet|remedy|thing to do)\b"
        rf"[^.;!?@]{{0,50}}? is (?:to|just to|simply to|probably to){_ADV}{_VERB}?{_DET}"),
    _cue("label", "recommend", 0.9,
        before=r" (?:(?:final|my|next|the|our) )?(?:action|answer|choice|decision|move|pick|selection|recommendation"
        r"|tool|call|step|plan|verdict|conclusion|bet|go-to|next up|up next|step one|step 1|first step|first thing)"
        rf"(?: (?:is|will be|would be|should be|for now|here))?(?: ?[:=]| ->| →)?(?: to)?{_VERB}?{_DET}"),
    _cue("imperative", "recommend", 0.8, before=rf"{_START}{_ADV}{_VERB}{_DET}"),
    _cue("intent-loose", "recommend", 0.8, before=rf"(?:{_WILL}|{_SHOULD}|{_CHOOSE}){_GAP}"),
    _cue("best-is", "recommend", 0.75, before=rf"{_BEST}[^.;!?]{{0,60}}(?:{_COPULA}|:|=|->|→)(?: \w+ly)?(?: the)?"),
    _cue("therefore", "recommend", 0.8, before=r"(?: (?:so|therefore|thus|hence|ergo)|=>|->|→)"),
    _cue("until", "recommend", 0.7, before=r" until(?: the| a| an)?"),  # "not X until Y": Y comes first
    _cue("asked-to", "recommend", 0.7,  # the request the agent is serving: "the user asked me to X"
        before=r" (?:user|customer|client|caller|requester|owner|manager|boss|team|they|he|she) (?:\w+ )?"
        rf"(?:asked|asks|wants|wanted|needs|requested|told)(?: me| us)? to{_ADV}{_VERB}?{_DET}"),
    _cue("says", "recommend", 0.75, before=r" (?:says|suggests|recommends|indicates|points to|calls for)"),
    _cue("subject", "recommend", 0.8, before=r"(?:^| so| then| now| thus|,) (?:i|we)"),
    _cue("using", "recommend", 0.75, before=r" (?:using|via|through|by calling|by running|with the help of)"),
    # "Serve A.", "Stick with arm_5", "Win at cell_7": a sentence that opens with a verb and then the mention
    _cue("imperative-any", "recommend", 0.8,
        before=rf"^ (?:please )?(?!(?:{_NOT_VERB})\b)(?![a-z]+(?:ed|ing)\b)[a-z]+{_PARTICLES}"),
    # -- after the mention
    _cue("first", "recommend", 0.85,
        after=r"(?: (?:goes|comes|has to go|must go|should go|needs to go|has to come|must come)(?: in)?)? first\b"),
    _cue("it-is", "recommend", 0.85, after=r",? (?:it is|it's|it shall be|it'll be)(?:[.!]|$)"),
    _cue("is-my-choice", "recommend", 0.85,
        after=r" (?:is|will be|would be) (?:my|our|the) (?:choice|pick|move|answer|call|decision|next step|way to go)"),
    _cue("is-the-best-option", "recommend", 0.8,
        after=r"(?: [\w-]+){0,2}?(?:'s| is| would be| seems| looks like| remains)(?: clearly| probably| definitely"
        r"| still| really)? (?:the|my|our) (?:(?:best|right|optimal|smartest|ideal|obvious|correct|safest|strongest"
        r"|most promising|only|next|cleanest|fastest|simplest|quickest|first|logical|natural) )+(?:option|choice|move"
        r"|pick|call|tool|arm|bet|action|step|play|candidate|one|way|path|route|fix|thing|place)\b"),
    _cue("for-this-round", "recommend", 0.85, after=r",? (?:for (?:this|the next) (?:round|turn|step|pull|move))"),
    _cue("untried", "recommend", 0.65,
        after=rf"(?:'s| is| are| has| have| was| remains| stays)?(?: still| yet| so far| completely| totally)?"
        rf" (?:not been|never been|hasn't been|haven't been|not yet been|not|never|un)(?: yet)? ?{_TRIED}\b"
        r"|(?: is| remains| stays) (?:untried|unexplored|untested|unknown|unsampled)"),
    _cue("is-bad", "reject",  # "down", "out", "later" need a copula: bare, they are particles ("scroll down")
        after=rf"(?:{_COPULA}{_BAD_ADV} (?:down|out|later)\b|{_COPULA}?{_BAD_ADV}"
        r" (?:not|isn't|aren't|wasn't|won't|doesn't|didn't|never|a bad|bad|worse|worst|weak|weaker|poor|poorer"
        r"|useless|pointless|unhelpful|irrelevant|broken|failing|failed|fails|unavailable|stale|outdated"
        r"|deprecated|risky|dangerous|wrong|a dead end|off the table|overkill|unnecessary|premature|disappointing"
        r"|underperform\w*|too (?:slow|risky|early|expensive|broad|narrow)|can wait|could wait|should wait"
        r"|out of the question|a no-go|not an option|ruled out)\b)"),
    _cue("beats", "recommend", 0.75,
        after=r" (?:clearly |easily |still |now |also |probably )?(?:beats|outperforms|dominates|trumps|edges out"
        r"|wins over|over|is (?:much |far |clearly |slightly |a lot |way )?(?:better|stronger|safer|faster|superior"
        r"|preferable)|looks (?:much )?better|seems (?:much )?better)\b"),
    _cue("source", "recommend", 0.7,
        after=r"(?: [\w-]+){0,3}?(?: (?:should|will|would|might|may|can|could|probably|likely|ought to|must|also))+"
        r" (?:have|has|bring|find|get|reveal|contain|tell|show|list|include|give|explain|answer|know|hold|confirm"
        r"|document|cover|point)\b"),
    _cue("evaluative", "recommend", 0.7, after=rf"(?: [\w-]+){{0,2}}?{_COPULA}\b[^.;!?@]{{0,60}}?{_GOOD}"),
    # "open file src/app.ts", "issue refund for line 2", "Red.": a short sentence that opens with the mention
    _cue("opens-sentence", "recommend", 0.8, before=r"^",
        after=rf"(?:[.!]|$|,? (?:and )?then\b|; |{_NOT_STATE} {_ORDER}(?:[.!,;]?$| then\b| and\b| @))", alone=True),
    _cue("opens-clause", "recommend", 0.8, before=r"(?::|—|–| -)",
        after=rf"(?:[.!]?$|,? (?:and )?then\b| {_ORDER}(?:[.!]?$| (?:before|after|then|and|so|to)\b))", alone=True),
)
"""The stance rows, in the order they are tried on each window."""
# fmt: on


# fmt: off
SCOPE: Final[tuple[Cue, ...]] = (
    _cue("hedge", "doubt",
        before=r" (?:maybe|perhaps|possibly|might|could|either|not sure|unsure|uncertain|torn|undecided|wondering"
        rf"|wonder|considering|consider|thinking about|between|or|vs|versus|alternatively|tempted|whether){_GAP}"),
    _cue("hedge-after", "doubt", after=r"(?:,? or\b|,? vs\b|,? versus\b| and/or\b|/@|,? maybe\b|,? perhaps\b)"),
    _cue("list-after", "doubt", after=r"(?:,|,? and)(?: the)? @,? (?:and |or )?(?:the )?@"),  # "X, Y and Z"
    _cue("condition", "doubt",  # "asked if" / "check if" is "whether": a question reported, not a condition
        before=r"(?<!ask)(?<!asks)(?<!asked)(?<!check)(?<!see)(?<!know)(?<!wonder)(?<!wondering)"
        r" (?:if|unless|in case|suppose|supposing|assuming|provided that|what if|should the|whenever)\b"
        r"(?![^;]*\b(?:so|therefore|thus|hence|otherwise)\b)[^;]*"),
    _cue("condition-after", "doubt", after=r",? (?:only )?(?:if|unless|in case|whenever)\b"),
    _cue("done", "past",
        before=r" (?:i|we|you|agent|it)"
        r"(?: (?:have|'ve|had|'d|already|previously|just|also|first|initially|originally))*"
        rf" (?:{PAST}|ran|chose|took|sent|got|did|made|left|put|wrote|found|saw|built){_GAP}"
        rf"| (?:already|previously|earlier|last time|so far){_GAP}"),
    _cue("done-after", "past",
        after=r" (?:was|were|has been|have been|had been) (?:already |just |previously )?(?:called|used|run|tried"
        r"|pressed|pulled|played|chosen|picked|selected|taken|searched|checked|queried|done|sent|executed)"
        r"| (?:last time|earlier|previously)\b| (?:gave|returned|yielded|got|paid) -?\d"),
    _cue("later", "later", before=r" (?:then|after that|afterwards|after this|later|subsequently|eventually|finally"
        rf"|followed by|before(?: finally)?|thereafter|lastly|second(?:ly)?|third|so(?: that)? (?:i|we) can){_GAP}"),
    _cue("later-after", "later",
        after=r"(?: [\w-]+){0,3}? (?:after|afterwards|later|after that|at the end)(?:[.!,;]|$)"),
)
"""The scope rows: every one is checked on both windows."""
# fmt: on
