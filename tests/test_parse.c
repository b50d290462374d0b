/* test_parse.c — the job parser (server/job_parse.c) and the ARRAY codec (server/array_json.c): a table of
 * invalid documents, each with the field it must name and a piece of the message; valid documents with their
 * defaults; the base64 codec; ARRAY encode/decode round trips; fields supplied by files (sr_job_supply).
 *
 * Documents are written with single quotes, turned into double quotes by expand(); "<Zn>" expands to the
 * base64 of n zero bytes (built here, independently of the codec under test). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array_json.h"
#include "job.h"
#include "machine.h"
#include "models.h"
#include "test.h"

/* ---------------------------------------------------------------- helpers */

static char *expand(const char *t) {
  size_t cap = strlen(t) + 1;
  for (const char *p = strstr(t, "<Z"); p; p = strstr(p + 2, "<Z")) cap += 4 * (strtoul(p + 2, NULL, 10) / 3 + 1);
  char *out = malloc(cap), *o = out;
  for (const char *p = t; *p;) {
    if (p[0] == '<' && p[1] == 'Z') {
      char *end;
      unsigned long n = strtoul(p + 2, &end, 10);
      for (unsigned long i = 0; i < n / 3; i++) o += sprintf(o, "AAAA");
      if (n % 3 == 1) o += sprintf(o, "AA==");
      if (n % 3 == 2) o += sprintf(o, "AAA=");
      p = end + 1; /* skip '>' */
      continue;
    }
    *o++ = *p == '\'' ? '"' : *p;
    p++;
  }
  *o = 0;
  return out;
}

static sr_status parse_t(const char *tmpl, sr_problem *pb, sr_error *err) {
  sr_limits lim;
  sr_limits_default(&lim);
  char *doc = expand(tmpl);
  sr_status st = sr_job_parse(doc, strlen(doc), &lim, pb, err);
  free(doc);
  return st;
}

static int problem_is_clear(const sr_problem *pb) {
  return !pb->op && !pb->prior && !pb->y && !pb->ground_truth;
}

/* ---------------------------------------------------------------- fragments */

#define Z4x4 "[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,0]]"
#define SHAPE44 "'shape':[4,4]"
#define IDENT "'operator':{'type':'identity'}"
#define NOISE "'noise':{'sigma':0.1}"
#define OBS44 "'observation':" Z4x4
#define GAUSS "'prior':{'type':'gaussian','std':1}"
#define LANGEVIN "'sampler':{'type':'langevin','steps':100}"
/* a complete measurement part: add prior, sampler, ... and close */
#define MEAS "{" SHAPE44 "," IDENT "," NOISE "," OBS44
/* a complete prior-only part */
#define NONE1 "{'shape':[4],'operator':{'type':'none'}"
#define VALID_TAIL "," GAUSS "," LANGEVIN "}"
/* fourier on 4x4 with a random mask and a zero complex observation */
#define FOURIER44 "{" SHAPE44 ",'operator':{'type':'fourier','mask':{'random':{'fraction':0.5,'seed':3}}}," NOISE
#define CPLX44 "{'dtype':'complex64','shape':[4,4],'data':'<Z128>'}"
#define REAL44 "{'dtype':'float32','shape':[4,4],'data':'<Z64>'}"
#define CPLX144 "{'dtype':'complex64','shape':[1,4,4],'data':'<Z128>'}"
#define REAL144 "{'dtype':'float32','shape':[1,4,4],'data':'<Z64>'}"

typedef struct {
  const char *doc;
  const char *field;   /* exact err.field */
  const char *msg;     /* substring of err.msg */
  sr_status st;        /* 0 means SR_EINVAL */
} bad_case;

static const bad_case BAD[] = {
    /* ---- the document */
    {"{'shape':[4,4],", "job", "is not valid JSON (line 1, column", SR_ESYNTAX},
    {NONE1 VALID_TAIL " x", "job", "is not valid JSON", SR_ESYNTAX},
    {"", "job", "is not valid JSON (line 1, column 1)", SR_ESYNTAX},
    {"{'shape':[4],\n 'seed': }", "job", "(line 2, column", SR_ESYNTAX},
    {"[1, 2]", "job", "must be a JSON object", 0},
    {"'hello'", "job", "must be a JSON object", 0},
    {NONE1 VALID_TAIL ",", "job", "is not valid JSON", SR_ESYNTAX},
    {NONE1 "," GAUSS "," LANGEVIN ",'extra':1}", "extra", "is not a known field (known here: shape,", 0},
    {NONE1 "," GAUSS "," LANGEVIN ",'seed':1,'seed':2}", "seed", "appears more than once in its object", 0},
    {NONE1 ",'prior':{'type':'gaussian','std':1,'std':2}," LANGEVIN "}", "prior.std", "appears more than once", 0},
    {"{'shape':[4],'operator':[{'type':'identity','type':'identity'}]}", "operator[0].type",
     "appears more than once", 0},
    {NONE1 ",'prior':{'type':'gaus\\u0000sian','std':1}," LANGEVIN "}", "job", "must not contain \\u0000", 0},
    {"{'a\\nb':1}", "a\nb", "is not a known field", 0},
    /* ---- shape */
    {"{'operator':{'type':'none'}" VALID_TAIL, "shape", "is required ([H, W] for an image, [N] for a signal)", 0},
    {"{'shape':'4x4','operator':{'type':'none'}" VALID_TAIL, "shape", "must be [H, W] or [N]", 0},
    {"{'shape':[],'operator':{'type':'none'}" VALID_TAIL, "shape", "must be [H, W] or [N]", 0},
    {"{'shape':[0,4],'operator':{'type':'none'}" VALID_TAIL, "shape", "must hold positive integers", 0},
    {"{'shape':[-4],'operator':{'type':'none'}" VALID_TAIL, "shape", "must hold positive integers", 0},
    {"{'shape':[2,2,2],'operator':{'type':'none'}" VALID_TAIL, "shape", "must be [H, W] or [N]", 0},
    {"{'shape':[4.5,4],'operator':{'type':'none'}" VALID_TAIL, "shape", "must hold positive integers", 0},
    {"{'shape':['4'],'operator':{'type':'none'}" VALID_TAIL, "shape", "must hold positive integers", 0},
    {"{'shape':[1000000,1000000],'operator':{'type':'none'}" VALID_TAIL, "shape",
     "has more than the limit of 4194304 pixels", SR_ELIMIT},
    {"{'shape':[2048,2049],'operator':{'type':'none'}" VALID_TAIL, "shape", "more than the limit", SR_ELIMIT},
    {"{'shape':[1e999],'operator':{'type':'none'}" VALID_TAIL, "shape", "more than the limit", SR_ELIMIT},
    /* ---- operators */
    {"{'shape':[4]" VALID_TAIL, "operator", "is required", 0},
    {"{'shape':[4],'operator':'blur'" VALID_TAIL, "operator", "must be an object with a \"type\"", 0},
    {"{'shape':[4],'operator':{'type':'radon'}" VALID_TAIL, "operator.type",
     "\"radon\" is not a known operator (none, identity, mask, blur, fourier, sense)", 0},
    {"{'shape':[4],'operator':{'kind':'identity'}" VALID_TAIL, "operator.type", "is required", 0},
    {"{'shape':[4],'operator':{'type':7}" VALID_TAIL, "operator.type", "must be a string", 0},
    {"{'shape':[4],'operator':{'type':'identity','scale':2}" VALID_TAIL, "operator.scale", "is not a known field", 0},
    {"{" SHAPE44 ",'operator':{'type':'mask','mask':[[1,1],[1,1]]}," NOISE "," OBS44 VALID_TAIL, "operator.mask",
     "shape [2,2] does not match the image shape [4,4]", 0},
    {"{" SHAPE44 ",'operator':{'type':'mask'}" VALID_TAIL, "operator.mask", "is required", 0},
    {"{" SHAPE44 ",'operator':{'type':'mask','mask':{'random':{'fraction':0.5}}}" VALID_TAIL, "operator.mask.random",
     "is not a field of an ARRAY", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':[[1,1,1,1,1],[1,1,1,1,1],[1,1,1,1,1],[1,1,1,1,1],[1,1,1,1,1]]}"
     VALID_TAIL, "operator.kernel", "shape [5,5] must be non-empty and no larger than the image [4,4]", 0},
    {"{'shape':[8],'operator':{'type':'blur','kernel':[[1]]}" VALID_TAIL, "operator.type",
     "blur needs a 2-D image: shape must be [H, W]", 0},
    {"{'shape':[8],'operator':{'type':'fourier','mask':[[1]]}" VALID_TAIL, "operator.type",
     "fourier needs a 2-D image", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':[[1,-1],[2,-2]]}" VALID_TAIL, "operator.kernel",
     "must have a finite, nonzero sum", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':[1,2,1]}" VALID_TAIL, "operator.kernel",
     "must be 2-D, got shape [3]", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur'}" VALID_TAIL, "operator.kernel", "is required", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':{'gaussian':{'sigma':1,'size':5}}}" VALID_TAIL,
     "operator.kernel.gaussian.size", "must be between 1 and 4", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':{'gaussian':{'sigma':0,'size':3}}}" VALID_TAIL,
     "operator.kernel.gaussian.sigma", "must be > 0", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':{'box':{'size':3}}}" VALID_TAIL, "operator.kernel.box",
     "is not a known generator (gaussian)", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{'cartesian':{'acceleration':0.5}}}" VALID_TAIL,
     "operator.mask.cartesian.acceleration", "must be >= 1", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{'cartesian':{'acceleration':4,'center_fraction':1.5}}}"
     VALID_TAIL, "operator.mask.cartesian.center_fraction", "must be between 0 and 1", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{'random':{'fraction':0}}}" VALID_TAIL,
     "operator.mask.random.fraction", "must be in (0, 1]", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{'radial':{'lines':8}}}" VALID_TAIL, "operator.mask.radial",
     "is not a known generator (cartesian, random)", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{'random':{'fraction':0.5},'cartesian':{'acceleration':4}}}"
     VALID_TAIL, "operator.mask", "exactly one generator", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{'random':{'fraction':0.5,'density':1}}}" VALID_TAIL,
     "operator.mask.random.density", "is not a known field", 0},
    {"{" SHAPE44 ",'operator':[{'type':'fourier','mask':{'random':{'fraction':0.5}}},{'type':'identity'}]"
     VALID_TAIL, "operator[0]", "fourier must be the last operator of a list", 0},
    {"{" SHAPE44 ",'operator':[]" VALID_TAIL, "operator", "list must hold 1 to 16 operators", 0},
    {"{'shape':[4],'operator':[{'type':'identity'},{'type':'identity'},{'type':'identity'},{'type':'identity'},"
     "{'type':'identity'},{'type':'identity'},{'type':'identity'},{'type':'identity'},{'type':'identity'},"
     "{'type':'identity'},{'type':'identity'},{'type':'identity'},{'type':'identity'},{'type':'identity'},"
     "{'type':'identity'},{'type':'identity'},{'type':'identity'}]" VALID_TAIL,
     "operator", "list must hold 1 to 16 operators", 0},
    {"{'shape':[4],'operator':[{'type':'none'}]" VALID_TAIL, "operator[0]", "type none cannot be part of a list", 0},
    {"{" SHAPE44 ",'operator':[{'type':'identity'},{'type':'blur','kernel':[[1,1],[1]]}]" VALID_TAIL,
     "operator[1].kernel", "is not rectangular", 0},
    {"{" SHAPE44 ",'operator':[{'type':'identity'},{'type':'blur','kernel':[[1,-1]]}]" VALID_TAIL,
     "operator[1].kernel", "nonzero sum", 0},
    /* ---- noise and observation */
    {"{" SHAPE44 "," IDENT "," NOISE VALID_TAIL, "observation", "is required with an operator", 0},
    {"{" SHAPE44 "," IDENT "," OBS44 VALID_TAIL, "noise", "is required", 0},
    {"{" SHAPE44 "," IDENT ",'noise':0.1," OBS44 VALID_TAIL, "noise", "must be an object", 0},
    {"{" SHAPE44 "," IDENT ",'noise':{}," OBS44 VALID_TAIL, "noise.sigma", "is required", 0},
    {"{" SHAPE44 "," IDENT ",'noise':{'sigma':-0.1}," OBS44 VALID_TAIL, "noise.sigma", "must be > 0", 0},
    {"{" SHAPE44 "," IDENT ",'noise':{'sigma':0}," OBS44 VALID_TAIL, "noise.sigma", "must be > 0", 0},
    {"{" SHAPE44 "," IDENT ",'noise':{'sigma':1e999}," OBS44 VALID_TAIL, "noise.sigma", "must be finite", 0},
    {"{" SHAPE44 "," IDENT ",'noise':{'sigma':0.1,'mean':0}," OBS44 VALID_TAIL, "noise.mean", "is not a known field",
     0},
    {NONE1 ",'noise':{'sigma':0.1}" VALID_TAIL, "noise", "must be omitted when operator.type is none", 0},
    {NONE1 ",'observation':[0,0,0,0]" VALID_TAIL, "observation", "must be omitted when operator.type is none", 0},
    {"{'shape':[28,28]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[27,28],'data':'<Z3024>'}"
     VALID_TAIL, "observation", "observation shape [27,28] does not match operator output [28,28]", 0},
    {MEAS "," GAUSS "," LANGEVIN ",'observation':1}", "observation", "appears more than once", 0},
    {"{" SHAPE44 "," IDENT "," NOISE ",'observation':[[0,0,0,0],[0,0,0,0],[0,0,0],[0,0,0,0]]" VALID_TAIL,
     "observation", "is not rectangular: expected shape [4,4]", 0},
    {"{" SHAPE44 "," IDENT "," NOISE ",'observation':[[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,'x',0,0]]" VALID_TAIL,
     "observation", "element 13 must be a number", 0},
    {"{" SHAPE44 "," IDENT "," NOISE ",'observation':7" VALID_TAIL, "observation",
     "must be an array, not a single number", 0},
    {"{" SHAPE44 "," IDENT "," NOISE ",'observation':[[]]" VALID_TAIL, "observation", "has an empty dimension", 0},
    {"{" SHAPE44 "," IDENT "," NOISE ",'observation':[[[[[0]]]]]" VALID_TAIL, "observation",
     "has more than 4 dimensions", 0},
    {FOURIER44 ",'observation':" REAL44 VALID_TAIL, "observation.dtype", "must be complex64 here", 0},
    {FOURIER44 ",'observation':" Z4x4 VALID_TAIL, "observation", "must be nested lists of [re, im] pairs", 0},
    {"{" SHAPE44 "," IDENT "," NOISE ",'observation':" CPLX44 VALID_TAIL, "observation.dtype",
     "must be float32 here", 0},
    {"{'shape':[2]," IDENT "," NOISE ",'observation':[1e999,0]" VALID_TAIL, "observation",
     "element 0 is not a finite float32", 0},
    {"{'shape':[2]," IDENT "," NOISE ",'observation':[0,1e39]" VALID_TAIL, "observation",
     "element 1 is not a finite float32", 0},
    {"{'shape':[2]," IDENT "," NOISE ",'observation':[0,-1e39]" VALID_TAIL, "observation",
     "element 1 is not a finite float32", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[1],'data':'AA*AAA=='}" VALID_TAIL,
     "observation.data", "is not valid base64", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[1],'data':'AAAAAA'}" VALID_TAIL,
     "observation.data", "must be base64 of 4 bytes", 0},
    {"{'shape':[2]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[2],'data':'AAAAAA=='}" VALID_TAIL,
     "observation.data", "must be base64 of 8 bytes (2 float32 values, shape [2])", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[1],'data':'AA==AA=='}" VALID_TAIL,
     "observation.data", "is not valid base64", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[1],'data':4}" VALID_TAIL,
     "observation.data", "must be a base64 string", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[1],'data':'AADAfw=='}" VALID_TAIL,
     "observation", "element 0 is not finite (NaN or Inf)", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float64','shape':[1],'data':'<Z8>'}" VALID_TAIL,
     "observation.dtype", "must be \"float32\" or \"complex64\", not \"float64\"", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'shape':[1],'data':'<Z4>'}" VALID_TAIL, "observation.dtype",
     "must be \"float32\" or \"complex64\"", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[1],'data':'<Z4>','order':'C'}"
     VALID_TAIL, "observation.order", "is not a field of an ARRAY (dtype, shape, data)", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[0],'data':''}" VALID_TAIL,
     "observation.shape", "must be a list of 1 to 4 positive integers", 0},
    {"{'shape':[1]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[100000,100000],'data':''}"
     VALID_TAIL, "observation.shape", "has more than the limit of 4194304 values", SR_ELIMIT},
    /* ---- prior */
    {MEAS "," LANGEVIN "}", "prior", "is required", 0},
    {MEAS ",'prior':'gaussian'," LANGEVIN "}", "prior", "must be an object with a \"type\"", 0},
    {MEAS ",'prior':{'type':'diffusion'}," LANGEVIN "}", "prior.type",
     "\"diffusion\" is not a known prior (gaussian, gmm, tv, score_model, ising)", 0},
    {MEAS ",'prior':{'type':'gaussian','std':0}," LANGEVIN "}", "prior.std", "prior.std must be > 0", 0},
    {MEAS ",'prior':{'type':'gaussian','std':-1}," LANGEVIN "}", "prior.std", "prior.std must be > 0", 0},
    {MEAS ",'prior':{'type':'gaussian','mean':0}," LANGEVIN "}", "prior.std", "is required", 0},
    {MEAS ",'prior':{'type':'gaussian','std':1,'var':1}," LANGEVIN "}", "prior.var", "is not a known field", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[1,1],'means':[0,1],'stds':[1]}," LANGEVIN "}", "prior.means",
     "weights, means and stds must have the same length (2, 2, 1)", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[1,-1],'means':[0,1],'stds':[1,1]}," LANGEVIN "}", "prior.weights[1]",
     "must be a finite number >= 0", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[0,0],'means':[0,1],'stds':[1,1]}," LANGEVIN "}", "prior.weights",
     "must have a positive sum", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[1,1],'means':[0,1],'stds':[-1,1]}," LANGEVIN "}", "prior.stds[0]",
     "must be a finite number >= 0", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[1,1],'means':[0,'a'],'stds':[1,1]}," LANGEVIN "}", "prior.means[1]",
     "must be a finite number", 0},
    {MEAS ",'prior':{'type':'gmm','weights':1,'means':[0],'stds':[1]}," LANGEVIN "}", "prior.weights",
     "must be a list of 1 to 64 numbers", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[1],'stds':[1]}," LANGEVIN "}", "prior.means", "is required", 0},
    {MEAS ",'prior':{'type':'tv','weight':0}," LANGEVIN "}", "prior.weight", "must be > 0", 0},
    {MEAS ",'prior':{'type':'tv','weight':-2}," LANGEVIN "}", "prior.weight", "must be > 0", 0},
    {MEAS ",'prior':{'type':'tv'}," LANGEVIN "}", "prior.weight", "is required", 0},
    {MEAS ",'prior':{'type':'tv','weight':1,'epsilon':0}," LANGEVIN "}", "prior.epsilon", "must be > 0", 0},
    /* ---- sampler */
    /* an omitted sampler is {"type": "auto"} (parse_valid_auto_sampler), so no "sampler is required" */
    {MEAS "," GAUSS ",'sampler':'langevin'}", "sampler", "must be an object with a \"type\"", 0},
    {MEAS "," GAUSS ",'sampler':{'steps':10}}", "sampler.type", "is required", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'hmc'}}", "sampler.type",
     "\"hmc\" is not a known sampler (auto, langevin, mala, annealed_langevin, pc, ode, mh, ddrm, diffpir, smc)", 0},
    /* ---- ddrm, diffpir, smc, auto */
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','eta':1.5}}", "sampler.eta", "sampler.eta must be in [0, 1]", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','eta':-0.01}}", "sampler.eta", "must be in [0, 1]", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','eta_b':-0.1}}", "sampler.eta_b", "sampler.eta_b must be in [0, 1]", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','eta':'0.5'}}", "sampler.eta", "must be a number", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','eta':1e999}}", "sampler.eta", "must be finite", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','steps':0}}", "sampler.steps", "must be between 1 and 1000000000", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','steps':2.5}}", "sampler.steps", "must be an integer", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','snr':0.16}}", "sampler.snr",
     "is not a known field (known here: type, steps, sde, eta, eta_b)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','lambda':1}}", "sampler.lambda", "is not a known field", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','sde':{'type':'subvp'}}}", "sampler.sde.type",
     "\"subvp\" is not a known SDE (ve, vp, drift)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ddrm','sde':{'type':'ve','sigma_min':2,'sigma_max':1}}}",
     "sampler.sde.sigma_max", "must be larger than sigma_min", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'diffpir','zeta':2}}", "sampler.zeta", "sampler.zeta must be in [0, 1]", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'diffpir','lambda':0}}", "sampler.lambda", "sampler.lambda must be > 0", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'diffpir','lambda':-1}}", "sampler.lambda", "must be > 0", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'diffpir','eta':0.5}}", "sampler.eta",
     "is not a known field (known here: type, steps, sde, lambda, zeta)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'smc','particles':1}}", "sampler.particles",
     "sampler.particles must be between 2 and 4096", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'smc','particles':4097}}", "sampler.particles", "must be between 2 and 4096",
     0},
    {MEAS "," GAUSS ",'sampler':{'type':'smc','particles':16.5}}", "sampler.particles", "must be an integer", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'smc','ess_threshold':0}}", "sampler.ess_threshold",
     "sampler.ess_threshold must be in (0, 1]", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'smc','ess_threshold':1.5}}", "sampler.ess_threshold", "must be in (0, 1]",
     0},
    {MEAS "," GAUSS ",'sampler':{'type':'smc','ess_threshold':-0.5}}", "sampler.ess_threshold", "must be in (0, 1]",
     0},
    {MEAS "," GAUSS ",'sampler':{'type':'smc','eta':0.5}}", "sampler.eta",
     "is not a known field (known here: type, steps, sde, particles, ess_threshold)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'auto','eta':0.5}}", "sampler.eta",
     "is not a known field (known here: type, steps)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'auto','sde':{'type':'ve'}}}", "sampler.sde", "is not a known field", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'auto','steps':0}}", "sampler.steps", "must be between 1 and 1000000000", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'auto','steps':'many'}}", "sampler.steps", "must be a number", 0},
    /* the spectral samplers need an operator with a spectral form: a list of operators has none
     * (sr_problem_validate) */
    {"{" SHAPE44 ",'operator':[{'type':'identity'},{'type':'identity'}]," NOISE "," OBS44 "," GAUSS
     ",'sampler':{'type':'ddrm'}}", "sampler.type", "ddrm", 0},
    {"{" SHAPE44 ",'operator':[{'type':'blur','kernel':[[1,1],[1,1]]},{'type':'mask','mask':" Z4x4 "}]," NOISE
     "," OBS44 "," GAUSS ",'sampler':{'type':'smc'}}", "sampler.type", "smc", 0},
    /* smc's work is particles × steps, whatever num_samples */
    {NONE1 ",'num_samples':1," GAUSS ",'sampler':{'type':'smc','particles':4096,'steps':100000}}",
     "sampler.particles", "× sampler.steps = 409600000 exceeds the limit of 100000000 chain-steps", SR_ELIMIT},
    {NONE1 ",'num_samples':4096," GAUSS ",'sampler':{'type':'ddrm','steps':100000}}", "num_samples",
     "× sampler steps = 409600000 exceeds the limit", SR_ELIMIT},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','stepsize':0.1}}", "sampler.stepsize",
     "is not a known field (known here: type, steps, step_size", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','steps':10.5}}", "sampler.steps", "must be an integer", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','steps':'100'}}", "sampler.steps", "must be a number", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','steps':0}}", "sampler.steps", "must be between 1 and 1000000000",
     0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','step_size':0}}", "sampler.step_size", "must be > 0", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','steps':100,'burn_in':100}}", "sampler.burn_in",
     "(100) must be smaller than sampler.steps (100)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','burn_in':1000}}", "sampler.burn_in",
     "(1000) must be smaller than sampler.steps (1000)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','thinning':0}}", "sampler.thinning", "must be between 1", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','adapt':true}}", "sampler.adapt", "applies to mala only", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'mala','adapt':1}}", "sampler.adapt", "must be true or false", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','target_accept':0.5}}", "sampler.target_accept", "applies to mala only", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'mala','target_accept':1}}", "sampler.target_accept", "must be in (0, 1)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','steps':100}}", "sampler.sde", "is required for pc", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ode'}}", "sampler.sde", "is required for ode", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'subvp'}}}", "sampler.sde.type",
     "\"subvp\" is not a known SDE (ve, vp, drift)", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':'ve'}}", "sampler.sde", "must be an object with a \"type\"", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'ve','sigma_min':2,'sigma_max':1}}}",
     "sampler.sde.sigma_max", "must be larger than sigma_min", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'vp','beta_min':2,'beta_max':1}}}", "sampler.sde.beta_max",
     "must be >= beta_min", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'drift'}}}", "sampler.sde.sigma", "is required", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'ve','beta_min':1}}}", "sampler.sde.beta_min",
     "is not a known field", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'ve'},'corrector_steps':1001}}", "sampler.corrector_steps",
     "must be between 0 and 1000", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'ve'},'method':'heun'}}", "sampler.method",
     "is not a known field", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'ode','sde':{'type':'ve'},'method':'rk4'}}", "sampler.method",
     "must be \"euler\" or \"heun\"", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'langevin','sde':{'type':'ve'}}}", "sampler.sde", "is not a known field", 0},
    {MEAS ",'prior':{'type':'tv','weight':1},'sampler':{'type':'pc','sde':{'type':'ve'}}}", "sampler.type",
     "pc needs the score of noised marginals, which prior.type tv does not have", 0},
    {MEAS ",'prior':{'type':'tv','weight':1},'sampler':{'type':'annealed_langevin'}}", "sampler.type",
     "annealed_langevin needs the score of noised marginals", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[1,1],'means':[0,1],'stds':[0,1]}," LANGEVIN "}", "prior.stds",
     "has an atom (std 0), which has no score at noise level 0: langevin cannot sample it", 0},
    {MEAS ",'prior':{'type':'gmm','weights':[1],'means':[0],'stds':[0]},'sampler':{'type':'mala'}}", "prior.stds",
     "mala cannot sample it", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','sigma_max':1,'sigma_min':2}}", "sampler.sigma_max",
     "must be larger than sampler.sigma_min", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','sigma_min':20}}", "sampler.sigma_max",
     "must be larger than sampler.sigma_min", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','levels':1}}", "sampler.levels", "must be between 2", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','step_rule':'newton'}}", "sampler.step_rule",
     "must be \"song\", \"lipschitz\" or \"spectral\"", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','final_steps':-1}}", "sampler.final_steps",
     "must be between 0 and 1000000000", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','final_steps':1.5}}", "sampler.final_steps",
     "must be an integer", 0},
    {MEAS "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'ve'},'final_steps':1}}", "sampler.final_steps",
     "is not a known field", 0},
    {"{" SHAPE44 ",'operator':[{'type':'blur','kernel':[[1,1],[1,1]]},{'type':'mask','mask':" Z4x4 "}]," NOISE
     "," OBS44 "," GAUSS ",'sampler':{'type':'annealed_langevin','step_rule':'spectral'}}", "sampler.step_rule",
     "spectral needs an operator that one orthonormal basis diagonalises", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'identity'}," NOISE ",'observation':" CPLX44 ","
     GAUSS ",'sampler':{'type':'annealed_langevin','step_rule':'spectral'}}", "sampler.step_rule",
     "spectral does not take complex images", 0},
    /* the final stage counts in the work limit: 1000 × (100 × 1000 + 10⁶) */
    {NONE1 ",'num_samples':1000," GAUSS ",'sampler':{'type':'annealed_langevin','steps_per_level':1000,"
     "'final_steps':1000000}}", "num_samples", "exceeds the limit of 100000000 chain-steps", SR_ELIMIT},
    /* ---- num_samples, seed, ground truth, outputs, work limits */
    {NONE1 VALID_TAIL ",'num_samples':0}", "job", "is not valid JSON", SR_ESYNTAX},
    {NONE1 ",'num_samples':0" VALID_TAIL, "num_samples", "must be between 1 and 4096", 0},
    {NONE1 ",'num_samples':4097" VALID_TAIL, "num_samples", "must be between 1 and 4096", 0},
    {NONE1 ",'num_samples':'8'" VALID_TAIL, "num_samples", "must be a number", 0},
    {NONE1 ",'seed':-1" VALID_TAIL, "seed", "must be between 0 and 9007199254740991", 0},
    {NONE1 ",'seed':1.5" VALID_TAIL, "seed", "must be an integer", 0},
    {NONE1 ",'num_samples':4096," GAUSS ",'sampler':{'type':'langevin','steps':100000}}", "num_samples",
     "× sampler steps = 409600000 exceeds the limit of 100000000 chain-steps", SR_ELIMIT},
    {NONE1 ",'num_samples':2000," GAUSS ",'sampler':{'type':'pc','sde':{'type':'ve'},'steps':50000}}",
     "num_samples", "× sampler steps = 200000000 exceeds the limit", SR_ELIMIT},
    {NONE1 ",'ground_truth':[0,0]" VALID_TAIL, "ground_truth", "shape [2] does not match the image shape [4]", 0},
    {NONE1 ",'ground_truth':[0,0,0,1e999]" VALID_TAIL, "ground_truth", "element 3 is not a finite float32", 0},
    {NONE1 ",'outputs':['mean','median']" VALID_TAIL, "outputs[1]",
     "\"median\" is not a known output (mean, std, samples", 0},
    {NONE1 ",'outputs':'mean'" VALID_TAIL, "outputs", "must be a list", 0},
    {NONE1 ",'outputs':[3]" VALID_TAIL, "outputs[0]", "must be \"mean\", \"std\", \"samples\" or", 0},
    {NONE1 ",'outputs':[{'trajectories':{'every':0}}]" VALID_TAIL, "outputs[0].trajectories.every",
     "must be between 1 and", 0},
    {NONE1 ",'outputs':[{'trajectories':{'each':2}}]" VALID_TAIL, "outputs[0].trajectories.each",
     "is not a known field", 0},
    {NONE1 ",'outputs':[{'trajectories':3}]" VALID_TAIL, "outputs[0].trajectories", "must be {\"every\": k}", 0},
    {NONE1 ",'outputs':[{'trajectories':{'every':1},'x':1}]" VALID_TAIL, "outputs[0]", "must be \"mean\"", 0},
    {NONE1 ",'seed':null" VALID_TAIL, "seed", "must be a number", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{}}" VALID_TAIL, "operator.mask",
     "must be an ARRAY or an object with exactly one generator (cartesian or random)", 0},
    {"{" SHAPE44 ",'operator':{'type':'fourier','mask':{'random':5}}" VALID_TAIL, "operator.mask.random",
     "must be an object", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':{'dtype':'float32','shape':[1,1]}}" VALID_TAIL,
     "operator.kernel", "exactly one generator (gaussian)", 0},
    {"{" SHAPE44 ",'operator':{'type':'blur','kernel':{'gaussian':[1,3]}}" VALID_TAIL, "operator.kernel.gaussian",
     "must be an object", 0},
    /* ---- complex images (image_dtype) */
    {"{" SHAPE44 ",'image_dtype':'complex128','operator':{'type':'none'}" VALID_TAIL, "image_dtype",
     "must be \"float32\" or \"complex64\"", 0},
    {"{" SHAPE44 ",'operator':{'type':'sense','sensitivities':" CPLX144 ",'mask':{'random':{'fraction':0.5}}},"
     NOISE ",'observation':" CPLX144 VALID_TAIL, "operator.type", "sense needs a complex image: set image_dtype", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'sense','mask':{'random':{'fraction':0.5}}},"
     NOISE ",'observation':" CPLX44 VALID_TAIL, "operator.sensitivities", "is required", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'sense','sensitivities':" CPLX44
     ",'mask':{'random':{'fraction':0.5}}}," NOISE ",'observation':" CPLX44 VALID_TAIL, "operator.sensitivities",
     "shape [4,4] is not [coils, 4, 4]", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'sense','sensitivities':" REAL144
     ",'mask':{'random':{'fraction':0.5}}}," NOISE ",'observation':" CPLX144 VALID_TAIL, "operator.sensitivities.dtype",
     "must be complex64", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'sense','sensitivities':" CPLX144
     ",'mask':{'random':{'fraction':0.5}}}," NOISE ",'observation':" CPLX44 VALID_TAIL, "observation",
     "does not match operator output [1,4,4]", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'identity'}," NOISE ",'observation':" REAL44
     VALID_TAIL, "observation.dtype", "must be complex64", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'identity'}," NOISE ",'observation':" CPLX44
     ",'ground_truth':" REAL44 VALID_TAIL, "ground_truth.dtype", "must be complex64", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'none'},'prior':{'type':'ising'}," LANGEVIN "}",
     "image_dtype", "not supported by prior.type ising", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'none'},'prior':{'type':'score_model','model':'x'},"
     LANGEVIN "}", "image_dtype", "not supported by prior.type score_model", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'none'}," GAUSS ",'sampler':{'type':'ddrm'}}",
     "sampler.type", "ddrm does not take complex images", 0},
    {"{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'none'}," GAUSS ",'sampler':{'type':'mh'}}",
     "sampler.type", "does not take complex images", 0},
    {"{'shape':[2048,2048],'operator':{'type':'none'},'num_samples':4096,'outputs':['samples']," GAUSS
     ",'sampler':{'type':'langevin','steps':10}}",
     "outputs", "would hold 17179869184 values (samples and trajectories), over the limit of 250000000",
     SR_ELIMIT},
};

TEST(parse_invalid_table) {
  size_t n = sizeof BAD / sizeof BAD[0];
  CHECK(n >= 40, "only %zu invalid documents", n);
  for (size_t i = 0; i < n; i++) {
    const bad_case *c = &BAD[i];
    sr_problem pb;
    sr_error err;
    memset(&err, 0x55, sizeof err);
    sr_status st = parse_t(c->doc, &pb, &err);
    sr_status want = c->st ? c->st : SR_EINVAL;
    CHECK(st == want, "case %zu: status %d, want %d (%s)\n    doc: %.200s", i, (int)st, (int)want,
          st ? err.msg : "parsed", c->doc);
    if (st == SR_OK) {
      sr_problem_clear(&pb);
      continue;
    }
    CHECK(memchr(err.field, 0, sizeof err.field) && memchr(err.msg, 0, sizeof err.msg), "case %zu: unterminated", i);
    CHECK(!strcmp(err.field, c->field), "case %zu: field '%s', want '%s' (msg: %s)", i, err.field, c->field,
          err.msg);
    CHECK(strstr(err.msg, c->msg) != NULL, "case %zu: msg '%s' lacks '%s'", i, err.msg, c->msg);
    /* the message starts with the field it names */
    CHECK(!strncmp(err.msg, err.field, strlen(err.field)) && err.msg[strlen(err.field)] == ' ',
          "case %zu: msg '%s' does not start with the field '%s'", i, err.msg, err.field);
    CHECK(problem_is_clear(&pb), "case %zu: the problem still owns objects after a failure", i);
  }
}

/* A shape far over the limit fails before any allocation: fast, whatever the claimed size. */
TEST(parse_huge_shapes_fail_fast) {
  const char *docs[] = {
      "{'shape':[1e15,1e15],'operator':{'type':'none'}" VALID_TAIL,
      "{'shape':[4],'operator':{'type':'identity'}," NOISE
      ",'observation':{'dtype':'float32','shape':[1000000000,1000000000,1000000000,1000000000],'data':''}"
      VALID_TAIL,
      "{'shape':[4],'operator':{'type':'mask','mask':{'dtype':'float32','shape':[65536,65536],'data':'AAAA'}}}",
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
    double t0 = sr_clock_seconds();
    sr_problem pb;
    sr_error err;
    sr_status st = parse_t(docs[i], &pb, &err);
    double s = sr_clock_seconds() - t0;
    CHECK(st != SR_OK && st != SR_ENOMEM, "doc %zu: status %d (%s)", i, (int)st, err.msg);
    CHECK(strstr(err.msg, "limit") != NULL, "doc %zu: %s", i, err.msg);
    CHECK(s < 0.05, "doc %zu took %.3f s", i, s);
  }
}

/* Limits come from the table handed in, not from constants. */
TEST(parse_custom_limits) {
  sr_limits lim;
  sr_limits_default(&lim);
  lim.max_pixels = 15;
  sr_problem pb;
  sr_error err;
  char *doc = expand("{'shape':[4,4],'operator':{'type':'none'}" VALID_TAIL);
  sr_status st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_ELIMIT && !strcmp(err.field, "shape") && strstr(err.msg, "limit of 15 pixels"), "%d %s", (int)st,
        err.msg);
  lim.max_pixels = 16;
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_OK, "16 pixels at a limit of 16: %s", err.msg);
  sr_problem_clear(&pb);
  lim.max_doc_bytes = strlen(doc) - 1;
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_ELIMIT && !strcmp(err.field, "job") && strstr(err.msg, "over the limit of"), "%d %s", (int)st,
        err.msg);
  sr_limits_default(&lim);
  lim.max_samples = 3;
  free(doc);
  doc = expand("{'shape':[4,4],'operator':{'type':'none'},'num_samples':4" VALID_TAIL);
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_EINVAL && !strcmp(err.field, "num_samples") && strstr(err.msg, "between 1 and 3"), "%s", err.msg);
  sr_limits_default(&lim);
  lim.max_chain_steps = 799;  /* 8 chains x 100 steps */
  free(doc);
  doc = expand("{'shape':[4,4],'operator':{'type':'none'}" VALID_TAIL);
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_ELIMIT && !strcmp(err.field, "num_samples"), "%s", err.msg);
  lim.max_chain_steps = 800;
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_OK, "%s", err.msg);
  sr_problem_clear(&pb);
  free(doc);
}

/* smc's particles are bounded by the limit for num_samples (also when defaulted to max(num_samples, 16)), and its
 * work is particles × steps, not num_samples × steps. */
TEST(parse_smc_limits) {
  sr_limits lim;
  sr_limits_default(&lim);
  sr_problem pb;
  sr_error err;
  lim.max_samples = 3;
  char *doc = expand(NONE1 ",'num_samples':2," GAUSS ",'sampler':{'type':'smc','particles':4,'steps':10}}");
  sr_status st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_EINVAL && !strcmp(err.field, "sampler.particles") && strstr(err.msg, "between 2 and 3"), "%s",
        err.msg);
  free(doc);
  doc = expand(NONE1 ",'num_samples':2," GAUSS ",'sampler':{'type':'smc','steps':10}}"); /* default 16 > 3 */
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st != SR_OK && !strcmp(err.field, "sampler.particles"), "default particles over the limit: %d %s", (int)st,
        err.msg);
  if (st == SR_OK) sr_problem_clear(&pb);
  free(doc);
  sr_limits_default(&lim);
  lim.max_chain_steps = 99; /* 10 particles x 10 steps */
  doc = expand(NONE1 ",'num_samples':2," GAUSS ",'sampler':{'type':'smc','particles':10,'steps':10}}");
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_ELIMIT && !strcmp(err.field, "sampler.particles") && strstr(err.msg, "= 100 exceeds"), "%d %s",
        (int)st, err.msg);
  lim.max_chain_steps = 100;
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_OK, "10 x 10 at a limit of 100: %s", err.msg);
  if (st == SR_OK) sr_problem_clear(&pb);
  free(doc);
  /* 50 chains x 10 steps = 500 > 100, but smc's work is its 10 particles x 10 steps */
  doc = expand(NONE1 ",'num_samples':50," GAUSS ",'sampler':{'type':'smc','particles':10,'steps':10}}");
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_OK, "smc work counted per chain: %s", err.msg);
  if (st == SR_OK) sr_problem_clear(&pb);
  free(doc);
  /* ddrm counts num_samples x steps, as the other samplers do */
  doc = expand(NONE1 ",'num_samples':11," GAUSS ",'sampler':{'type':'ddrm','steps':10}}");
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_ELIMIT && !strcmp(err.field, "num_samples") && strstr(err.msg, "= 110 exceeds"), "%d %s", (int)st,
        err.msg);
  free(doc);
}

/* Raw bytes the template language cannot write: a NUL inside the text, text without a terminating NUL. */
TEST(parse_raw_bytes) {
  sr_limits lim;
  sr_limits_default(&lim);
  sr_problem pb;
  sr_error err;
  const char nul[] = "{\"shape\":[4]\0}";
  sr_status st = sr_job_parse(nul, sizeof nul - 1, &lim, &pb, &err);
  CHECK(st == SR_EINVAL && !strcmp(err.field, "job") && strstr(err.msg, "NUL byte"), "%s", err.msg);
  char *doc = expand("{'shape':[4,4],'operator':{'type':'none'}" VALID_TAIL "GARBAGE");
  st = sr_job_parse(doc, strlen(doc) - 7, &lim, &pb, &err); /* len excludes the garbage */
  CHECK(st == SR_OK, "%s", err.msg);
  sr_problem_clear(&pb);
  free(doc);
  /* an escaped backslash before u0000 is not an escaped NUL */
  doc = expand("{'shape':[4,4],'operator':{'type':'none'},'prior':{'type':'gaussian','std':1},"
               "'sampler':{'type':'langevin','steps':100,'x\\\\u0000':1}}");
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_EINVAL && !strcmp(err.field, "sampler.x\\u0000"), "%s", err.msg);
  free(doc);
}

/* An object of many keys is checked for duplicates in O(k log k), not pairwise. */
TEST(parse_many_keys_fast) {
  size_t k = 200000;
  char *doc = malloc(k * 16 + 64), *o = doc;
  o += sprintf(o, "{");
  for (size_t i = 0; i < k; i++) o += sprintf(o, "%s\"k%zu\":0", i ? "," : "", i);
  o += sprintf(o, ",\"k7\":1,\"k5\":1}");
  sr_limits lim;
  sr_limits_default(&lim);
  sr_problem pb;
  sr_error err;
  double t0 = sr_clock_seconds();
  sr_status st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  double s = sr_clock_seconds() - t0;
  /* the duplicate whose first occurrence comes first is named, as a pairwise scan would */
  CHECK(st == SR_EINVAL && !strcmp(err.field, "k5") && strstr(err.msg, "appears more than once"), "%s", err.msg);
  CHECK(s < 2.0, "%zu keys took %.2f s", k, s);
  /* the same keys without a duplicate: the unknown-key error */
  o[-15] = '}';
  o[-14] = 0;
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_EINVAL && !strcmp(err.field, "k0") && strstr(err.msg, "is not a known field"), "%s", err.msg);
  free(doc);
}

/* ---------------------------------------------------------------- valid documents */

static int parse_ok(const char *tmpl, sr_problem *pb) {
  sr_error err;
  sr_status st = parse_t(tmpl, pb, &err);
  if (st) {
    fprintf(stderr, "  parse failed: %s\n  doc: %s\n", err.msg, tmpl);
    return 0;
  }
  return 1;
}

TEST(parse_valid_identity_lists_and_base64) {
  sr_problem a, b;
  /* the same observation, 1 2 3 4 / 0.5 -1 ..., as lists and as base64 */
  float v[16];
  for (int i = 0; i < 16; i++) v[i] = (float)(i % 5) - 1.5f * (float)(i % 3);
  char lists[512] = "", *o = lists;
  o += sprintf(o, "[");
  for (int r = 0; r < 4; r++) {
    o += sprintf(o, "%s[", r ? "," : "");
    for (int c = 0; c < 4; c++) o += sprintf(o, "%s%.9g", c ? "," : "", v[4 * r + c]);
    o += sprintf(o, "]");
  }
  sprintf(o, "]");
  char *b64 = sr_base64_encode((const unsigned char *)v, sizeof v);
  char da[1024], db[1024];
  snprintf(da, sizeof da, "{" SHAPE44 "," IDENT "," NOISE ",'observation':%s" VALID_TAIL, lists);
  snprintf(db, sizeof db,
           "{" SHAPE44 "," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[4,4],'data':'%s'}" VALID_TAIL,
           b64);
  free(b64);
  int oka = parse_ok(da, &a), okb = parse_ok(db, &b);
  CHECK(oka && okb, "valid identity documents rejected");
  if (!oka || !okb) {
    if (oka) sr_problem_clear(&a);
    if (okb) sr_problem_clear(&b);
    return;
  }
  CHECK(a.rank == 2 && a.shape[0] == 4 && a.shape[1] == 4 && a.n == 16, "shape");
  CHECK(a.op && !strcmp(a.op->kind, "identity") && a.op->n_out == 16 && !a.op->out_complex, "operator");
  CHECK(!memcmp(a.y, v, sizeof v), "lists observation differs from the values");
  CHECK(!memcmp(b.y, v, sizeof v), "base64 observation differs from the values");
  CHECK(a.noise_sigma == 0.1, "noise %g", a.noise_sigma);
  size_t ncomp = 0;
  const double *mu = NULL, *sd = NULL;
  CHECK(a.prior && !sr_prior_mixture(a.prior, &ncomp, NULL, &mu, &sd) && ncomp == 1 && mu[0] == 0.0 && sd[0] == 1.0,
        "prior");
  /* defaults */
  CHECK(a.num_samples == 8, "num_samples default %ld", a.num_samples);
  CHECK(a.seed == 0, "seed default");
  CHECK(a.want_mean && a.want_std && !a.want_samples && a.trajectory_every == 0, "outputs default");
  CHECK(!a.ground_truth, "ground truth");
  CHECK(a.sampler.kind == SR_SAMPLER_LANGEVIN && a.sampler.steps == 100, "sampler");
  CHECK(a.sampler.burn_in == 20, "burn_in = steps/5, got %ld", a.sampler.burn_in);
  CHECK(a.sampler.thinning == 1, "thinning %ld", a.sampler.thinning);
  /* langevin: 0.1 / L, L = 1/std^2 + ||A||^2/sigma^2 = 1 + 100 */
  CHECK(a.sampler.step_size > 0, "step size");
  CHECK_NEAR(a.sampler.step_size, 0.1 / 101.0, 1e-12, "langevin default step");
  sr_problem_clear(&a);
  sr_problem_clear(&b);
}

TEST(parse_valid_defaults_per_sampler) {
  sr_problem pb;
  /* langevin with no steps: 1000, burn-in 200 */
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'langevin'}}", &pb)) {
    CHECK(pb.sampler.steps == 1000 && pb.sampler.burn_in == 200 && pb.sampler.thinning == 1, "%ld %ld %ld",
          pb.sampler.steps, pb.sampler.burn_in, pb.sampler.thinning);
    CHECK(!pb.op && !pb.y, "operator none");
    CHECK_NEAR(pb.sampler.step_size, 0.1, 1e-12, "langevin step 0.1/L with L = 1");
    sr_problem_clear(&pb);
  } else CHECK(0, "langevin defaults");
  /* explicit values are kept */
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'langevin','steps':50,'burn_in':0,'thinning':5,"
               "'step_size':0.003},'num_samples':3,'seed':77}", &pb)) {
    CHECK(pb.sampler.steps == 50 && pb.sampler.burn_in == 0 && pb.sampler.thinning == 5 &&
          pb.sampler.step_size == 0.003 && pb.num_samples == 3 && pb.seed == 77, "explicit langevin");
    sr_problem_clear(&pb);
  } else CHECK(0, "explicit langevin");
  /* mala: 1/(L n^(1/3)), adapt on, target 0.574; prior std 0.5 -> L = 4, n = 8 -> 1/8 */
  if (parse_ok("{'shape':[8],'operator':{'type':'none'},'prior':{'type':'gaussian','mean':1,'std':0.5},"
               "'sampler':{'type':'mala','steps':10}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_MALA && pb.sampler.adapt == 1, "mala adapt default");
    CHECK_NEAR(pb.sampler.step_size, 1.0 / (4.0 * 2.0), 1e-12, "mala default step");
    CHECK_NEAR(pb.sampler.target_accept, 0.574, 0, "mala target");
    CHECK(pb.sampler.burn_in == 2, "burn_in %ld", pb.sampler.burn_in);
    sr_problem_clear(&pb);
  } else CHECK(0, "mala defaults");
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'mala','adapt':false,'target_accept':0.3}}", &pb)) {
    CHECK(pb.sampler.adapt == 0 && pb.sampler.target_accept == 0.3, "mala explicit");
    sr_problem_clear(&pb);
  } else CHECK(0, "mala explicit");
  /* annealed: 10, 0.01, 100 levels x 10; epsilon 0.2 smin^2/(1+||A||^2) with identity (||A||^2 = 1) */
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin'}}", &pb)) {
    CHECK(pb.sampler.sigma_max == 10 && pb.sampler.sigma_min == 0.01 && pb.sampler.levels == 100 &&
          pb.sampler.steps_per_level == 10, "annealed defaults");
    CHECK_NEAR(pb.sampler.epsilon, 0.2 * 1e-4 / 2.0, 1e-15, "annealed epsilon");
    CHECK(pb.sampler.step_rule == SR_STEP_SONG && pb.sampler.final_steps == 0, "annealed: song, no final stage");
    sr_problem_clear(&pb);
  } else CHECK(0, "annealed");
  /* spectral: epsilon 0.1 and one final exact-likelihood step, unless given */
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','step_rule':'spectral'}}", &pb)) {
    CHECK(pb.sampler.step_rule == SR_STEP_SPECTRAL && pb.sampler.final_steps == 1 && pb.sampler.epsilon == 0.1,
          "annealed spectral defaults: final_steps %ld, epsilon %g", pb.sampler.final_steps, pb.sampler.epsilon);
    sr_problem_clear(&pb);
  } else CHECK(0, "annealed spectral");
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','step_rule':'spectral','final_steps':0}}", &pb)) {
    CHECK(pb.sampler.final_steps == 0, "annealed spectral final_steps 0 kept");
    sr_problem_clear(&pb);
  } else CHECK(0, "annealed spectral final 0");
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'annealed_langevin','step_rule':'lipschitz','final_steps':7}}", &pb)) {
    CHECK(pb.sampler.step_rule == SR_STEP_LIPSCHITZ && pb.sampler.final_steps == 7, "annealed lipschitz final 7");
    sr_problem_clear(&pb);
  } else CHECK(0, "annealed lipschitz final");
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'annealed_langevin','sigma_min':0.1}}", &pb)) {
    CHECK_NEAR(pb.sampler.epsilon, 0.2 * 0.01, 1e-15, "annealed epsilon without an operator");
    sr_problem_clear(&pb);
  } else CHECK(0, "annealed none");
  /* pc: 1000 steps, snr 0.16, 1 corrector, denoise; ve 0.01..50 */
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'ve'}}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_PC && pb.sampler.steps == 1000 && pb.sampler.snr == 0.16 &&
          pb.sampler.corrector_steps == 1 && pb.sampler.denoise == 1, "pc defaults");
    CHECK(pb.sampler.sde.kind == SR_SDE_VE && pb.sampler.sde.sigma_min == 0.01 && pb.sampler.sde.sigma_max == 50 &&
          pb.sampler.sde.T == 1.0, "ve defaults");
    sr_problem_clear(&pb);
  } else CHECK(0, "pc");
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'pc','sde':{'type':'vp'},'corrector_steps':0,'denoise':false,"
               "'snr':0.2,'steps':10}}", &pb)) {
    CHECK(pb.sampler.corrector_steps == 0 && pb.sampler.denoise == 0 && pb.sampler.snr == 0.2 &&
          pb.sampler.steps == 10, "pc explicit");
    CHECK(pb.sampler.sde.kind == SR_SDE_VP && pb.sampler.sde.beta_min == 0.1 && pb.sampler.sde.beta_max == 20 &&
          pb.sampler.sde.T == 1.0, "vp defaults");
    sr_problem_clear(&pb);
  } else CHECK(0, "pc vp");
  /* ode: 500 steps, heun; drift sde mu 0, T 1 */
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'ode','sde':{'type':'drift','sigma':0.5}}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_ODE && pb.sampler.steps == 500 && pb.sampler.ode_method == 2, "ode defaults");
    CHECK(pb.sampler.sde.kind == SR_SDE_DRIFT && pb.sampler.sde.mu == 0 && pb.sampler.sde.sigma == 0.5 &&
          pb.sampler.sde.T == 1.0, "drift defaults");
    sr_problem_clear(&pb);
  } else CHECK(0, "ode");
  if (parse_ok(NONE1 "," GAUSS ",'sampler':{'type':'ode','sde':{'type':'ve'},'method':'euler'}}", &pb)) {
    CHECK(pb.sampler.ode_method == 1, "euler");
    sr_problem_clear(&pb);
  } else CHECK(0, "ode euler");
  /* gmm with an atom is fine for pc; tv with mala is fine */
  if (parse_ok(NONE1 ",'prior':{'type':'gmm','weights':[0.4,0.6],'means':[-0.3,0.5],'stds':[0,0]},"
               "'sampler':{'type':'pc','sde':{'type':'drift','mu':0.5,'sigma':0.25,'T':2}}}", &pb)) {
    size_t ncomp = 0;
    CHECK(!sr_prior_mixture(pb.prior, &ncomp, NULL, NULL, NULL) && ncomp == 2 && pb.sampler.sde.mu == 0.5 &&
              pb.sampler.sde.T == 2, "gmm + drift");
    sr_problem_clear(&pb);
  } else CHECK(0, "gmm atom pc");
  if (parse_ok(MEAS ",'prior':{'type':'tv','weight':2},'sampler':{'type':'mala','steps':10}}", &pb)) {
    CHECK(!strcmp(pb.prior->kind, "tv") && isfinite(pb.prior->lipschitz), "tv prior");
    sr_problem_clear(&pb);
  } else CHECK(0, "tv mala");
  /* outputs */
  if (parse_ok(NONE1 ",'outputs':['samples',{'trajectories':{'every':10}}]" VALID_TAIL, &pb)) {
    CHECK(!pb.want_mean && !pb.want_std && pb.want_samples && pb.trajectory_every == 10, "outputs");
    sr_problem_clear(&pb);
  } else CHECK(0, "outputs");
  if (parse_ok(NONE1 ",'outputs':[]" VALID_TAIL, &pb)) {
    CHECK(!pb.want_mean && !pb.want_std && !pb.want_samples && !pb.trajectory_every, "empty outputs");
    sr_problem_clear(&pb);
  } else CHECK(0, "empty outputs");
  if (parse_ok(NONE1 ",'ground_truth':[1,2,3,4],'seed':9007199254740991" VALID_TAIL, &pb)) {
    CHECK(pb.ground_truth && pb.ground_truth[3] == 4.0f && pb.seed == 9007199254740991ULL, "ground truth, seed");
    sr_problem_clear(&pb);
  } else CHECK(0, "ground truth");
}

TEST(parse_valid_complex_images) {
  sr_problem pb;
  const char *ops[] = {"{'type':'identity'}", "{'type':'mask','mask':" REAL44 "}",
                       "{'type':'blur','kernel':{'gaussian':{'sigma':1,'size':3}}}",
                       "{'type':'fourier','mask':{'cartesian':{'acceleration':2}}}",
                       "[{'type':'blur','kernel':[[1,2,1]]},{'type':'fourier','mask':{'random':{'fraction':0.5}}}]"};
  for (int i = 0; i < 5; i++) {
    char doc[1024];
    snprintf(doc, sizeof doc, "{" SHAPE44 ",'image_dtype':'complex64','operator':%s," NOISE ",'observation':"
             CPLX44 ",'ground_truth':" CPLX44 ",'prior':{'type':'tv','weight':2}," LANGEVIN "}", ops[i]);
    if (parse_ok(doc, &pb)) {
      CHECK(pb.complex_image && pb.n == 32 && pb.op->in_complex && pb.op->out_complex && pb.op->n_in == 32 &&
                pb.op->n_out == 32 && pb.ground_truth, "complex op %d", i);
      sr_problem_clear(&pb);
    } else CHECK(0, "complex op %d", i);
  }
  if (parse_ok("{" SHAPE44 ",'image_dtype':'complex64','operator':{'type':'sense','sensitivities':"
               "{'dtype':'complex64','shape':[2,4,4],'data':'<Z256>'},'mask':{'random':{'fraction':0.5}}}," NOISE
               ",'observation':{'dtype':'complex64','shape':[2,4,4],'data':'<Z256>'}" VALID_TAIL, &pb)) {
    CHECK(!strcmp(pb.op->kind, "sense") && pb.op->out_rank == 3 && pb.op->out_shape[0] == 2 &&
              pb.op->n_out == 64 && pb.op->n_in == 32, "sense op");
    sr_problem_clear(&pb);
  } else CHECK(0, "sense");
  if (parse_ok("{" SHAPE44 ",'image_dtype':'float32','operator':{'type':'none'}" VALID_TAIL, &pb)) {
    CHECK(!pb.complex_image && pb.n == 16, "float32 image");
    sr_problem_clear(&pb);
  } else CHECK(0, "image_dtype float32");
}

TEST(parse_valid_operators) {
  sr_problem pb;
  /* mask on a 1-D signal: unobserved entries of y are zeroed */
  if (parse_ok("{'shape':[4],'operator':{'type':'mask','mask':[1,0,1,0]}," NOISE ",'observation':[1,2,3,4]"
               VALID_TAIL, &pb)) {
    CHECK(!strcmp(pb.op->kind, "mask") && pb.op->obs_mask, "mask op");
    CHECK(pb.y[0] == 1 && pb.y[1] == 0 && pb.y[2] == 3 && pb.y[3] == 0, "y %g %g %g %g", pb.y[0], pb.y[1], pb.y[2],
          pb.y[3]);
    sr_problem_clear(&pb);
  } else CHECK(0, "mask");
  /* blur: kernel as a list and as a generator */
  if (parse_ok("{" SHAPE44 ",'operator':{'type':'blur','kernel':[[1,2,1]]}," NOISE "," OBS44 VALID_TAIL, &pb)) {
    CHECK(!strcmp(pb.op->kind, "blur") && pb.op->n_out == 16 && !pb.op->out_complex, "blur op");
    CHECK_NEAR(pb.op->norm2, 1.0, 1e-5, "normalised kernel: ||A||^2 = 1");
    sr_problem_clear(&pb);
  } else CHECK(0, "blur list");
  if (parse_ok("{" SHAPE44 ",'operator':{'type':'blur','kernel':{'gaussian':{'sigma':1,'size':3}}}," NOISE
               ",'observation':" REAL44 VALID_TAIL, &pb)) {
    CHECK(!strcmp(pb.op->kind, "blur"), "blur op");
    sr_problem_clear(&pb);
  } else CHECK(0, "blur gaussian");
  /* fourier: complex observation, base64 and lists; mask from an ARRAY and from generators */
  if (parse_ok(FOURIER44 ",'observation':" CPLX44 VALID_TAIL, &pb)) {
    CHECK(!strcmp(pb.op->kind, "fourier") && pb.op->out_complex && pb.op->n_out == 32, "fourier op");
    sr_problem_clear(&pb);
  } else CHECK(0, "fourier base64");
  if (parse_ok("{" SHAPE44 ",'operator':{'type':'fourier','mask':{'cartesian':{'acceleration':2,'seed':1}}}," NOISE
               ",'observation':[[[1,2],[3,4],[5,6],[7,8]],[[1,2],[3,4],[5,6],[7,8]],[[1,2],[3,4],[5,6],[7,8]],"
               "[[1,2],[3,4],[5,6],[7,8]]]" VALID_TAIL, &pb)) {
    CHECK(pb.op->out_complex && pb.op->out_rank == 2 && pb.op->out_shape[0] == 4 && pb.op->out_shape[1] == 4,
          "fourier out shape");
    /* y is zeroed where the mask is 0, kept where 1 */
    int ok = 1;
    for (size_t i = 0; i < 32; i++) {
      float want = (float)(1 + i % 8) * pb.op->obs_mask[i];
      ok &= pb.y[i] == want;
    }
    CHECK(ok, "complex list observation decoded and masked");
    sr_problem_clear(&pb);
  } else CHECK(0, "fourier lists");
  if (parse_ok("{" SHAPE44 ",'operator':{'type':'fourier','mask':[[1,1,1,1],[1,0,1,0],[1,1,1,1],[0,0,0,0]]},"
               NOISE ",'observation':" CPLX44 VALID_TAIL, &pb)) {
    CHECK(pb.op->out_complex && pb.op->obs_mask[2 * 5] == 0 && pb.op->obs_mask[2 * 6 + 1] == 1,
          "fourier with a list mask");
    sr_problem_clear(&pb);
  } else CHECK(0, "fourier ARRAY mask");
  /* lists: blur then mask (real), blur then fourier (complex), a single-element list */
  if (parse_ok("{" SHAPE44 ",'operator':[{'type':'blur','kernel':{'gaussian':{'sigma':1,'size':3}}},"
               "{'type':'mask','mask':[[1,1,1,1],[0,0,0,0],[1,1,1,1],[0,0,0,0]]}]," NOISE "," OBS44 VALID_TAIL,
               &pb)) {
    CHECK(pb.op->n_in == 16 && pb.op->n_out == 16 && !pb.op->out_complex, "blur then mask");
    CHECK(pb.op->obs_mask != NULL, "the chain borrows the mask");
    sr_problem_clear(&pb);
  } else CHECK(0, "blur+mask");
  if (parse_ok("{" SHAPE44 ",'operator':[{'type':'blur','kernel':[[1,1],[1,1]]},"
               "{'type':'fourier','mask':{'random':{'fraction':0.5}}}]," NOISE ",'observation':" CPLX44 VALID_TAIL,
               &pb)) {
    CHECK(pb.op->out_complex && pb.op->n_out == 32, "blur then fourier");
    sr_problem_clear(&pb);
  } else CHECK(0, "blur+fourier");
  if (parse_ok("{'shape':[4],'operator':[{'type':'identity'}]," NOISE ",'observation':[0,0,0,0]" VALID_TAIL, &pb)) {
    CHECK(pb.op->n_out == 4, "one-element list");
    sr_problem_clear(&pb);
  } else CHECK(0, "list of one");
  /* the 28x28 observation that matches */
  if (parse_ok("{'shape':[28,28]," IDENT "," NOISE ",'observation':{'dtype':'float32','shape':[28,28],"
               "'data':'<Z3136>'}" VALID_TAIL, &pb)) {
    CHECK(pb.n == 784, "28x28");
    sr_problem_clear(&pb);
  } else CHECK(0, "28x28");
}

/* ---------------------------------------------------------------- ddrm, diffpir, smc, auto */

TEST(parse_valid_new_samplers) {
  sr_problem pb;
  /* explicit values land in the cfg as given */
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'ddrm','steps':10,'eta':0.5,'eta_b':0.25,"
               "'sde':{'type':'vp','beta_max':10}}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_DDRM && pb.sampler.steps == 10 && pb.sampler.eta == 0.5 &&
          pb.sampler.eta_b == 0.25, "ddrm explicit: kind %d steps %ld eta %g eta_b %g", (int)pb.sampler.kind,
          pb.sampler.steps, pb.sampler.eta, pb.sampler.eta_b);
    CHECK(pb.sampler.sde.kind == SR_SDE_VP && pb.sampler.sde.beta_min == 0.1 && pb.sampler.sde.beta_max == 10,
          "ddrm sde");
    CHECK(!sr_sampler_is_auto(&pb.sampler), "an explicit ddrm is not auto");
    sr_problem_clear(&pb);
  } else CHECK(0, "ddrm explicit");
  /* the bounds are inclusive */
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'ddrm','eta':0,'eta_b':1}}", &pb)) {
    CHECK(pb.sampler.eta == 0 && pb.sampler.eta_b == 1, "ddrm eta 0, eta_b 1");
    sr_problem_clear(&pb);
  } else CHECK(0, "ddrm bounds");
  /* defaults: steps 100, eta 0.85, eta_b 1; an analytic prior without sde: VE 0.01 .. 50 */
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'ddrm'}}", &pb)) {
    CHECK(pb.sampler.steps == 100 && pb.sampler.eta == 0.85 && pb.sampler.eta_b == 1, "ddrm defaults: %ld %g %g",
          pb.sampler.steps, pb.sampler.eta, pb.sampler.eta_b);
    CHECK(pb.sampler.sde.kind == SR_SDE_VE && pb.sampler.sde.sigma_min == 0.01 && pb.sampler.sde.sigma_max == 50 &&
          pb.sampler.sde.T == 1, "ddrm default sde");
    sr_problem_clear(&pb);
  } else CHECK(0, "ddrm defaults");
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'diffpir','steps':20,'lambda':2.5,'zeta':0,"
               "'sde':{'type':'ve','sigma_max':5}}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_DIFFPIR && pb.sampler.steps == 20 && pb.sampler.dp_lambda == 2.5 &&
          pb.sampler.zeta == 0, "diffpir explicit: %ld %g %g", pb.sampler.steps, pb.sampler.dp_lambda,
          pb.sampler.zeta);
    CHECK(pb.sampler.sde.kind == SR_SDE_VE && pb.sampler.sde.sigma_max == 5 && pb.sampler.sde.sigma_min == 0.01,
          "diffpir sde");
    sr_problem_clear(&pb);
  } else CHECK(0, "diffpir explicit");
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'diffpir'}}", &pb)) {
    CHECK(pb.sampler.steps == 100 && pb.sampler.dp_lambda == 1 && pb.sampler.zeta == 0.3, "diffpir defaults: %ld %g %g",
          pb.sampler.steps, pb.sampler.dp_lambda, pb.sampler.zeta);
    CHECK(pb.sampler.sde.kind == SR_SDE_VE && pb.sampler.sde.sigma_max == 50, "diffpir default sde");
    sr_problem_clear(&pb);
  } else CHECK(0, "diffpir defaults");
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'smc','steps':30,'particles':32,'ess_threshold':1,"
               "'sde':{'type':'drift','sigma':2}}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_SMC && pb.sampler.steps == 30 && pb.sampler.particles == 32 &&
          pb.sampler.ess_threshold == 1, "smc explicit: %ld %ld %g", pb.sampler.steps, pb.sampler.particles,
          pb.sampler.ess_threshold);
    CHECK(pb.sampler.sde.kind == SR_SDE_DRIFT && pb.sampler.sde.sigma == 2, "smc sde");
    sr_problem_clear(&pb);
  } else CHECK(0, "smc explicit");
  /* particles default max(num_samples, 16); ess_threshold 0.5 */
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'smc'},'num_samples':4}", &pb)) {
    CHECK(pb.sampler.particles == 16 && pb.sampler.ess_threshold == 0.5 && pb.sampler.steps == 100,
          "smc defaults: %ld %g %ld", pb.sampler.particles, pb.sampler.ess_threshold, pb.sampler.steps);
    sr_problem_clear(&pb);
  } else CHECK(0, "smc defaults");
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'smc','particles':2},'num_samples':40}", &pb)) {
    CHECK(pb.sampler.particles == 2, "smc: 2 particles are allowed, %ld", pb.sampler.particles);
    sr_problem_clear(&pb);
  } else CHECK(0, "smc 2 particles");
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'smc'},'num_samples':40}", &pb)) {
    CHECK(pb.sampler.particles == 40, "smc default particles = num_samples 40: %ld", pb.sampler.particles);
    sr_problem_clear(&pb);
  } else CHECK(0, "smc particles from num_samples");
}

/* 144 zero floats, base64 */
#define ZERO144 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

/* {"type": "auto"} and an omitted sampler: the table in server/models.c, resolved by prior type and operator. */
TEST(parse_valid_auto_sampler) {
  sr_problem pb;
  const char *gauss[] = {MEAS "," GAUSS ",'sampler':{'type':'auto'}}", MEAS "," GAUSS "}",
                         MEAS ",'prior':{'type':'gmm','weights':[1,1],'means':[0,1],'stds':[1,0.5]}}"};
  for (size_t i = 0; i < 3; i++) {
    if (parse_ok(gauss[i], &pb)) {
      CHECK(pb.sampler.kind == SR_SAMPLER_SMC && pb.sampler.steps == 200 && sr_sampler_is_auto(&pb.sampler),
            "doc %zu: kind %d steps %ld", i, (int)pb.sampler.kind, pb.sampler.steps);
      CHECK(pb.sampler.sde.kind == SR_SDE_VE && pb.sampler.sde.sigma_min == 0.01 && pb.sampler.sde.sigma_max == 50,
            "doc %zu: VE 0.01 .. 50", i);
      CHECK(pb.sampler.particles == 16, "doc %zu: default particles %ld", i, pb.sampler.particles);
      sr_problem_clear(&pb);
    } else CHECK(0, "auto doc %zu", i);
  }
  /* an operator list has no spectral form: auto falls back to pc */
  if (parse_ok("{" SHAPE44 ",'operator':[{'type':'identity'},{'type':'identity'}]," NOISE "," OBS44 ","
               GAUSS "}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_PC && pb.sampler.sde.kind == SR_SDE_VE && sr_sampler_is_auto(&pb.sampler),
          "operator list: auto pc, got kind %d", (int)pb.sampler.kind);
    sr_problem_clear(&pb);
  } else CHECK(0, "auto with an operator list");
  /* "steps" overrides the table */
  if (parse_ok(MEAS "," GAUSS ",'sampler':{'type':'auto','steps':50}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_SMC && pb.sampler.steps == 50 && sr_sampler_is_auto(&pb.sampler),
          "auto steps 50: %ld", pb.sampler.steps);
    sr_problem_clear(&pb);
  } else CHECK(0, "auto steps");
  /* tv: mala with its defaults */
  if (parse_ok(MEAS ",'prior':{'type':'tv','weight':1}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_MALA && pb.sampler.steps == 1000 && pb.sampler.adapt &&
          sr_sampler_is_auto(&pb.sampler), "tv: auto mala");
    sr_problem_clear(&pb);
  } else CHECK(0, "tv auto");
  /* ising: mh; "steps" sets the sweeps */
  if (parse_ok("{'shape':[2,2]," IDENT "," NOISE ",'observation':[[0,1],[1,0]],"
               "'prior':{'type':'ising','coupling':0.5,'values':[0,1]},'sampler':{'type':'auto','steps':30}}", &pb)) {
    CHECK(pb.sampler.kind == SR_SAMPLER_MH && pb.sampler.steps == 30 && pb.sampler.burn_in == 6 &&
          sr_sampler_is_auto(&pb.sampler), "ising: auto mh, %ld sweeps", pb.sampler.steps);
    sr_problem_clear(&pb);
  } else CHECK(0, "ising auto");
  /* a learned prior: ddrm over the model's trained range */
  sr_limits lim;
  sr_limits_default(&lim);
  lim.models_dir = "tests/data";
  sr_error err;
  char *doc = expand("{'shape':[12,12],'operator':{'type':'none'},'prior':{'type':'score_model','model':'tiny-unet'}}");
  sr_status st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_OK, "score_model auto: %s", err.msg);
  if (st == SR_OK) {
    CHECK(pb.sampler.kind == SR_SAMPLER_DDRM && pb.sampler.steps == 100 && pb.sampler.eta == 0.85 &&
          pb.sampler.eta_b == 1 && sr_sampler_is_auto(&pb.sampler), "score_model: auto ddrm");
    CHECK(pb.sampler.sde.kind == SR_SDE_VE && pb.sampler.sde.sigma_min == 0.01 && pb.sampler.sde.sigma_max == 25,
          "score_model: trained range, %g .. %g", pb.sampler.sde.sigma_min, pb.sampler.sde.sigma_max);
    sr_problem_clear(&pb);
  }
  free(doc);
  /* per operator: a blur gets diffpir, and a list (no spectral form) the model's recommended pc */
  doc = expand("{'shape':[12,12],'operator':{'type':'blur','kernel':{'gaussian':{'sigma':1,'size':3}}},"
               "'noise':{'sigma':0.1},'observation':{'dtype':'float32','shape':[12,12],'data':'" ZERO144 "'},"
               "'prior':{'type':'score_model','model':'tiny-unet'}}");
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_OK && pb.sampler.kind == SR_SAMPLER_DIFFPIR && pb.sampler.steps == 100 && sr_sampler_is_auto(&pb.sampler),
        "score_model + blur: auto diffpir (%s)", err.msg);
  if (st == SR_OK) sr_problem_clear(&pb);
  free(doc);
  doc = expand("{'shape':[12,12],'operator':[{'type':'blur','kernel':{'gaussian':{'sigma':1,'size':3}}},"
               "{'type':'identity'}],'noise':{'sigma':0.1},'observation':{'dtype':'float32','shape':[12,12],'data':'"
               ZERO144 "'},'prior':{'type':'score_model','model':'tiny-unet'}}");
  st = sr_job_parse(doc, strlen(doc), &lim, &pb, &err);
  CHECK(st == SR_OK && pb.sampler.kind == SR_SAMPLER_PC && pb.sampler.steps == 20 && sr_sampler_is_auto(&pb.sampler),
        "score_model + list: auto pc with the model's steps (%s)", err.msg);
  if (st == SR_OK) sr_problem_clear(&pb);
  free(doc);
  /* the same table is what the model listing reports */
  cJSON *a = sr_auto_sampler("score_model", NULL), *m = sr_models_json("tests/data");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(a, "type");
  CHECK(cJSON_IsString(t) && !strcmp(t->valuestring, "ddrm"), "table: score_model -> ddrm");
  const cJSON *ds = cJSON_GetObjectItemCaseSensitive(m, "default_samplers");
  CHECK(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(ds, "score_model"), a, 1), "models: default_samplers");
  const cJSON *models = cJSON_GetObjectItemCaseSensitive(m, "models"), *md = NULL;
  for (const cJSON *e = models ? models->child : NULL; e; e = e->next)
    if (!strcmp(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring, "tiny-unet")) md = e;
  const cJSON *mds = md ? cJSON_GetObjectItemCaseSensitive(md, "default_sampler") : NULL;
  CHECK(mds && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(mds, "type"), t, 1) &&
        cJSON_GetObjectItemCaseSensitive(mds, "steps")->valuedouble == 100 &&
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(mds, "sde"), "sigma_max")->valuedouble == 25,
        "models: tiny-unet's default_sampler");
  for (const char *const *p = (const char *const[]){"gaussian", "gmm", "tv", "ising", NULL}; *p; p++)
    CHECK(cJSON_GetObjectItemCaseSensitive(ds, *p), "models: default_samplers.%s", *p);
  CHECK(!sr_auto_sampler("diffusion", NULL), "no table entry for an unknown prior");
  cJSON_Delete(a);
  cJSON_Delete(m);
}

/* The result document's new parts: diagnostics (null where not defined), smc's stats, warnings, "auto": true. */
TEST(result_json_diagnostics_and_warnings) {
  sr_problem pb;
  sr_problem_init(&pb);
  pb.rank = 1;
  pb.shape[0] = pb.n = 2;
  pb.num_samples = 2;
  pb.sampler.kind = SR_SAMPLER_SMC;
  pb.sampler.steps = 3;
  pb.sampler.particles = 16;
  pb.sampler.ess_threshold = 0.5;
  pb.sampler.sde = (sr_sde){.kind = SR_SDE_VE, .sigma_min = 0.01, .sigma_max = 50, .T = 1};
  sr_sampler_mark_auto(&pb.sampler);
  sr_result res;
  memset(&res, 0, sizeof res);
  double eh[4] = {16, 9.5, 4.25, 15};
  res.ess_history = eh;
  res.ess_len = 4;
  res.resamples = 1;
  res.particles = 16;
  res.log_evidence = -3.5;
  res.rhat_max = res.rhat_median = NAN;
  res.ess_min = 12.5;
  res.ess_median = 14;
  res.nwarnings = 2;
  strcpy(res.warnings[0], "first");
  memset(res.warnings[1], 'w', sizeof res.warnings[1]); /* unterminated: cut at its size */
  cJSON *o = sr_result_json(&pb, &res, 1);
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "stats"), *smp = cJSON_GetObjectItemCaseSensitive(o, "sampler");
  CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(st, "rhat")), "rhat null when not defined");
  const cJSON *ess = cJSON_GetObjectItemCaseSensitive(st, "ess");
  CHECK(cJSON_GetObjectItemCaseSensitive(ess, "min") && cJSON_GetObjectItemCaseSensitive(ess, "min")->valuedouble == 12.5 &&
        cJSON_GetObjectItemCaseSensitive(ess, "median")->valuedouble == 14, "ess {min, median}");
  CHECK(cJSON_GetObjectItemCaseSensitive(st, "particles")->valuedouble == 16 &&
        cJSON_GetObjectItemCaseSensitive(st, "resamples")->valuedouble == 1 &&
        cJSON_GetObjectItemCaseSensitive(st, "log_evidence")->valuedouble == -3.5, "smc stats");
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(st, "ess_history");
  CHECK(cJSON_GetArraySize(h) == 4 && cJSON_GetArrayItem(h, 2)->valuedouble == 4.25, "ess_history");
  CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(smp, "type")->valuestring, "smc") &&
        cJSON_GetObjectItemCaseSensitive(smp, "particles")->valuedouble == 16 &&
        cJSON_GetObjectItemCaseSensitive(smp, "ess_threshold")->valuedouble == 0.5 &&
        cJSON_GetObjectItemCaseSensitive(smp, "steps")->valuedouble == 3 &&
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(smp, "auto")), "smc sampler echo with auto");
  const cJSON *sde = cJSON_GetObjectItemCaseSensitive(smp, "sde");
  CHECK(sde && !strcmp(cJSON_GetObjectItemCaseSensitive(sde, "type")->valuestring, "ve"), "sde echoed");
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "warnings");
  CHECK(cJSON_GetArraySize(w) == 2 && !strcmp(cJSON_GetArrayItem(w, 0)->valuestring, "first") &&
        strlen(cJSON_GetArrayItem(w, 1)->valuestring) == sizeof res.warnings[1], "warnings");
  cJSON_Delete(o);
  /* ddrm and diffpir echo their fields; no auto unless marked; rhat defined; no warnings: [] */
  sr_problem_init(&pb);
  pb.rank = 1;
  pb.shape[0] = pb.n = 2;
  pb.sampler.kind = SR_SAMPLER_DDRM;
  pb.sampler.steps = 5;
  pb.sampler.eta = 0.85;
  pb.sampler.eta_b = 1;
  pb.sampler.sde = (sr_sde){.kind = SR_SDE_VP, .beta_min = 0.1, .beta_max = 20, .T = 1};
  memset(&res, 0, sizeof res);
  res.rhat_max = 1.2;
  res.rhat_median = 1.01;
  res.ess_min = res.ess_median = NAN;
  o = sr_result_json(&pb, &res, 1);
  st = cJSON_GetObjectItemCaseSensitive(o, "stats");
  smp = cJSON_GetObjectItemCaseSensitive(o, "sampler");
  const cJSON *rh = cJSON_GetObjectItemCaseSensitive(st, "rhat");
  CHECK(rh && cJSON_GetObjectItemCaseSensitive(rh, "max")->valuedouble == 1.2 &&
        cJSON_GetObjectItemCaseSensitive(rh, "median")->valuedouble == 1.01, "rhat {max, median}");
  CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(st, "ess")), "ess null when not defined");
  CHECK(!cJSON_GetObjectItemCaseSensitive(st, "particles") && !cJSON_GetObjectItemCaseSensitive(st, "ess_history"),
        "no smc stats for ddrm");
  CHECK(cJSON_GetObjectItemCaseSensitive(smp, "eta")->valuedouble == 0.85 &&
        cJSON_GetObjectItemCaseSensitive(smp, "eta_b")->valuedouble == 1 &&
        !cJSON_GetObjectItemCaseSensitive(smp, "auto"), "ddrm echo");
  w = cJSON_GetObjectItemCaseSensitive(o, "warnings");
  CHECK(cJSON_IsArray(w) && cJSON_GetArraySize(w) == 0, "warnings always present");
  cJSON_Delete(o);
  pb.sampler.kind = SR_SAMPLER_DIFFPIR;
  pb.sampler.dp_lambda = 2;
  pb.sampler.zeta = 0.3;
  o = sr_result_json(&pb, &res, 1);
  smp = cJSON_GetObjectItemCaseSensitive(o, "sampler");
  CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(smp, "type")->valuestring, "diffpir") &&
        cJSON_GetObjectItemCaseSensitive(smp, "lambda")->valuedouble == 2 &&
        cJSON_GetObjectItemCaseSensitive(smp, "zeta")->valuedouble == 0.3 &&
        !cJSON_GetObjectItemCaseSensitive(smp, "eta"), "diffpir echo");
  cJSON_Delete(o);
}

/* ---------------------------------------------------------------- base64 */

TEST(parse_base64_round_trip) {
  static const char *const rfc[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                       {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < 7; i++) {
    char *e = sr_base64_encode((const unsigned char *)rfc[i][0], strlen(rfc[i][0]));
    CHECK(e && !strcmp(e, rfc[i][1]), "encode '%s' = '%s', want '%s'", rfc[i][0], e ? e : "(null)", rfc[i][1]);
    free(e);
  }
  unsigned char in[16], out[16];
  for (size_t n = 0; n <= 10; n++) {
    for (int pat = 0; pat < 3; pat++) {
      for (size_t i = 0; i < n; i++) in[i] = (unsigned char)(pat == 0 ? 0 : pat == 1 ? 0xff : (37 * i + 11) & 0xff);
      char *e = sr_base64_encode(in, n);
      CHECK(e != NULL, "encode");
      if (!e) continue;
      size_t len = strlen(e);
      CHECK(len == 4 * ((n + 2) / 3), "n %zu: length %zu", n, len);
      CHECK(sr_base64_decoded_len(e, len) == n, "n %zu: decoded_len %zu", n, sr_base64_decoded_len(e, len));
      memset(out, 0xaa, sizeof out);
      long got = sr_base64_decode(e, len, out, sizeof out);
      CHECK(got == (long)n && !memcmp(in, out, n), "n %zu pattern %d: decoded %ld bytes", n, pat, got);
      if (n > 0) {
        /* too small a buffer is refused, not overrun */
        memset(out, 0xaa, sizeof out);
        CHECK(sr_base64_decode(e, len, out, n - 1) == -1, "n %zu: cap n-1 accepted", n);
        CHECK(out[n - 1] == 0xaa, "n %zu: wrote past cap", n);
      }
      free(e);
    }
  }
  static const char *const bad[] = {"A",    "AA",       "AAA",      "AAAAA",    "AA*A",     "AAA-",  "AA=A",
                                    "A===", "====",     "AA==AAAA", "AAA=AAAA", "AAAA AAA", "AA\nA", "AAA\x80",
                                    "Zg==Zg=="};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK(sr_base64_decode(bad[i], strlen(bad[i]), out, sizeof out) == -1, "accepted invalid '%s'", bad[i]);
  CHECK(sr_base64_decode("-_8=", 4, out, sizeof out) == -1, "url-safe alphabet accepted");
  CHECK(sr_base64_decode("+/8=", 4, out, sizeof out) == 2 && out[0] == 0xfb && out[1] == 0xff, "+/ alphabet");
}

/* ---------------------------------------------------------------- ARRAY encode/decode */

static int same_bits(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

static void round_trip(int rank, const size_t *shape, int cplx, int lists) {
  size_t count = 1;
  for (int i = 0; i < rank; i++) count *= shape[i];
  size_t nf = cplx ? 2 * count : count;
  float *data = sr_alloc(nf);
  for (size_t i = 0; i < nf; i++) data[i] = (float)((double)i * 0.37 - 1.0) * (i % 2 ? -1.0f : 1.0f) + 1e-7f * (float)i;
  data[0] = 3.4028235e38f;     /* largest float */
  if (nf > 1) data[1] = 1.4e-45f; /* smallest subnormal */
  if (nf > 2) data[2] = -0.0f;
  cJSON *j = sr_jarray_encode(data, rank, shape, cplx, lists);
  CHECK(j != NULL, "encode");
  if (!j) {
    sr_free(data);
    return;
  }
  if (lists) {
    CHECK(cJSON_IsArray(j) && (size_t)cJSON_GetArraySize(j) == shape[0], "lists form");
  } else {
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    CHECK(cJSON_IsString(dt) && !strcmp(dt->valuestring, cplx ? "complex64" : "float32"), "dtype");
    CHECK(cJSON_IsArray(sh) && cJSON_GetArraySize(sh) == rank, "shape");
    CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "data")), "data");
  }
  /* through text, as a client would see it */
  char *text = cJSON_PrintUnformatted(j);
  cJSON *back = cJSON_Parse(text);
  sr_jarray a;
  sr_error err;
  sr_status st = sr_jarray_decode(back, "x", cplx, 1 << 20, &a, &err);
  CHECK(st == SR_OK, "decode rank %d cplx %d lists %d: %s", rank, cplx, lists, err.msg);
  if (st == SR_OK) {
    CHECK(a.rank == rank && !memcmp(a.shape, shape, (size_t)rank * sizeof(size_t)), "shape back");
    CHECK(a.count == count && a.is_complex == cplx, "count %zu", a.count);
    /* base64 is bit-exact; lists go through decimal text, exact for every float but -0 (cJSON prints "0") */
    int same = 1;
    for (size_t i = 0; i < nf; i++) same &= lists ? a.data[i] == data[i] : same_bits(a.data + i, data + i, 1);
    CHECK(same, "rank %d cplx %d lists %d: values differ", rank, cplx, lists);
    sr_free(a.data);
  }
  /* the other kind is refused; nested lists are ambiguous (a real [..., 2] reads as complex [...]), but the
   * shape then differs, which the parser's shape checks catch */
  st = sr_jarray_decode(back, "x", !cplx, 1 << 20, &a, &err);
  if (lists) {
    CHECK(st != SR_OK || a.rank != rank, "rank %d cplx %d lists: decoded as the other kind, same rank", rank, cplx);
    if (st == SR_OK) sr_free(a.data);
  } else {
    CHECK(st == SR_EINVAL && a.data == NULL && strstr(err.msg, cplx ? "must be float32 here" : "must be complex64 here"),
          "rank %d cplx %d: decoded as the other kind (%s)", rank, cplx, err.msg);
  }
  /* a limit one below the count is refused before allocating */
  st = sr_jarray_decode(back, "x", cplx, count - 1, &a, &err);
  CHECK(st == SR_ELIMIT && a.data == NULL && strstr(err.msg, "limit"), "limit: %d %s", (int)st, err.msg);
  free(text);
  cJSON_Delete(back);
  cJSON_Delete(j);
  sr_free(data);
}

TEST(parse_jarray_round_trip) {
  size_t s1[] = {7}, s2[] = {3, 5}, s3[] = {2, 3, 4}, s4[] = {2, 1, 3, 2};
  for (int lists = 0; lists < 2; lists++)
    for (int cplx = 0; cplx < 2; cplx++) {
      round_trip(1, s1, cplx, lists);
      round_trip(2, s2, cplx, lists);
      round_trip(3, s3, cplx, lists);
      round_trip(4, s4, cplx, lists);
    }
  /* a base64 ARRAY and the nested lists of the same values decode to the same floats */
  float v[6] = {1, -2, 3.5f, 0.25f, -0.125f, 1e-3f};
  size_t sh[2] = {2, 3};
  cJSON *a = sr_jarray_encode(v, 2, sh, 0, 0), *b = sr_jarray_encode(v, 2, sh, 0, 1);
  sr_jarray ja, jb;
  sr_error err;
  CHECK(!sr_jarray_decode(a, "a", 0, 100, &ja, &err) && !sr_jarray_decode(b, "b", 0, 100, &jb, &err), "%s", err.msg);
  CHECK(same_bits(ja.data, v, 6) && same_bits(jb.data, v, 6), "forms agree");
  sr_free(ja.data);
  sr_free(jb.data);
  cJSON_Delete(a);
  cJSON_Delete(b);
  /* the known little-endian bytes of 1.0f: 00 00 80 3f */
  float one = 1.0f;
  size_t s[1] = {1};
  cJSON *o = sr_jarray_encode(&one, 1, s, 0, 0);
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "data");
  CHECK(d && !strcmp(d->valuestring, "AACAPw=="), "1.0f encodes as '%s'", d ? d->valuestring : "(null)");
  cJSON_Delete(o);
  char buf[64];
  CHECK(!strcmp(sr_shape_str(2, sh, buf, sizeof buf), "[2,3]"), "shape_str %s", buf);
  CHECK(!strcmp(sr_shape_str(1, s, buf, sizeof buf), "[1]"), "shape_str %s", buf);
}

/* ---------------------------------------------------------------- fields supplied by files (run --mask, ...) */

/* Supplies a 4x4 ARRAY of ones at key into the document tmpl; returns the status, with path and why. */
static sr_status supply_t(const char *tmpl, const char *key, char *path, char *why, cJSON **doc_out) {
  sr_limits lim;
  sr_limits_default(&lim);
  char *text = expand(tmpl);
  cJSON *doc = NULL;
  sr_error err;
  sr_status st = sr_job_read(text, strlen(text), &lim, &doc, &err);
  free(text);
  CHECK(st == SR_OK, "read: %s", err.msg);
  float ones[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  size_t shape[2] = {4, 4};
  st = sr_job_supply(doc, key, sr_jarray_encode(ones, 2, shape, 0, 0), path, 64, why, 256);
  *doc_out = doc;
  return st;
}

TEST(parse_supply_places) {
  char path[64], why[256];
  cJSON *doc;
  sr_limits lim;
  sr_limits_default(&lim);
  sr_problem pb;
  sr_error err;
  /* the observation (absent from the document), then parsed as if it had been written there */
  CHECK(supply_t("{" SHAPE44 "," IDENT "," NOISE ",'prior':{'type':'gaussian','std':1},'sampler':{'type':'langevin'}}",
                 "observation", path, why, &doc) == SR_OK && !strcmp(path, "observation"), "observation: %s", why);
  CHECK(sr_job_parse_tree(doc, &lim, &pb, &err, NULL) == SR_OK, "parse: %s", err.msg);
  CHECK(pb.y && pb.y[0] == 1 && pb.y[15] == 1, "the supplied observation");
  sr_problem_clear(&pb);
  cJSON_Delete(doc);
  /* a mask operator's mask replaces the one written, and the parser names its place */
  CHECK(supply_t("{" SHAPE44 ",'operator':{'type':'mask','mask':[1]}}", "mask", path, why, &doc) == SR_OK &&
        !strcmp(path, "operator.mask"), "mask: %s %s", path, why);
  char *t = cJSON_PrintUnformatted(doc);
  const char *m = t ? strstr(t, "\"mask\":") : NULL;
  CHECK(m && !strncmp(m, "\"mask\":{\"dtype\":\"float32\",\"shape\":[4,4],", 37) && !strstr(m + 1, "\"mask\":") &&
        !strstr(t, "[1]"), "one mask key, the new one: %s", t);
  free(t);
  cJSON_Delete(doc);
  /* in a list: the one operator that takes it */
  CHECK(supply_t("{" SHAPE44 ",'operator':[{'type':'blur','kernel':{'gaussian':{'sigma':1,'size':3}}},"
                 "{'type':'fourier','mask':{'random':{'fraction':0.5}}}]}", "mask", path, why, &doc) == SR_OK &&
        !strcmp(path, "operator[1].mask"), "fourier mask in a list: %s %s", path, why);
  cJSON_Delete(doc);
  CHECK(supply_t("{" SHAPE44 ",'operator':[{'type':'blur','kernel':[[1]]},{'type':'identity'}]}", "kernel", path,
                 why, &doc) == SR_OK && !strcmp(path, "operator[0].kernel"), "kernel in a list: %s %s", path, why);
  cJSON_Delete(doc);
  CHECK(supply_t("{" SHAPE44 "}", "ground_truth", path, why, &doc) == SR_OK && !strcmp(path, "ground_truth"),
        "ground truth: %s", why);
  cJSON_Delete(doc);
}

TEST(parse_supply_refusals) {
  char path[64], why[256];
  cJSON *doc;
  CHECK(supply_t("{" SHAPE44 "," IDENT "}", "mask", path, why, &doc) == SR_EINVAL &&
        !strcmp(why, "the job's operator (identity) takes no mask: mask, fourier and sense operators do"), "%s", why);
  cJSON_Delete(doc);
  CHECK(supply_t("{" SHAPE44 ",'operator':[{'type':'identity'},{'type':'mask','mask':[1]}]}", "kernel", path, why,
                 &doc) == SR_EINVAL &&
        !strcmp(why, "the job's operator (identity, mask) takes no kernel: blur operators do"), "%s", why);
  cJSON_Delete(doc);
  CHECK(supply_t("{" SHAPE44 ",'operator':[{'type':'mask','mask':[1]},{'type':'blur','kernel':[[1]]},"
                 "{'type':'fourier','mask':[1]}]}", "mask", path, why, &doc) == SR_EINVAL &&
        !strcmp(why, "2 operators of the job take a mask (operator[0], operator[2]): give it in the job document "
                "instead"), "%s", why);
  cJSON_Delete(doc);
  /* malformed: left for the parser to name */
  static const char *const malformed[] = {"{" SHAPE44 "}", "{" SHAPE44 ",'operator':'mask'}",
                                          "{" SHAPE44 ",'operator':[]}", "{" SHAPE44 ",'operator':[{'type':1}]}",
                                          "[1]"};
  for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
    CHECK(supply_t(malformed[i], "kernel", path, why, &doc) == SR_OK, "malformed %zu: %s", i, why);
    char *t = cJSON_PrintUnformatted(doc);
    CHECK(t && !strstr(t, "float32"), "malformed %zu changed: %s", i, t);
    free(t);
    cJSON_Delete(doc);
  }
}
