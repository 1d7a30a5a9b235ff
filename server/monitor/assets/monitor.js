var e=`query GetTask($id: ID!) {
  task(id: $id) {
    ...TaskFields
  }
}

fragment TaskFields on Task {
  id
  task
  status
  priority
  conversationId
  context
  createdAt
  startedAt
  finishedAt
  queuePosition
  estimatedWaitTime
  progress
  artifacts
  result
  error
  lastSeq
  currentStep {
    id
    name
    status
    progress
  }
  steps {
    id
    position
    name
    action
    params
    requiresApproval
    reversibility
    status
    progress
    result
  }
  approvals {
    id
    stepId
    status
    prompt
    parameters
    modifiedParameters
    decidedBy
    decisionMessage
    expiresAt
  }
  pendingApproval {
    id
    stepId
    prompt
    parameters
    expiresAt
  }
  logs {
    level
    message
    stepId
  }
}`,t=class extends Error{code;hint;status;constructor(e,t,n={}){super(e),this.name=`AgentwireError`,this.code=t,this.hint=n.hint,this.status=n.status}};function n(e){return Array.isArray(e)&&e.length>0&&e.every(e=>typeof e==`object`&&!!e&&typeof e.message==`string`)}function r(e,n){let r=e[0],i=typeof r.extensions?.code==`string`?r.extensions.code:`GRAPHQL_ERROR`,a=typeof r.extensions?.hint==`string`?r.extensions.hint:void 0;return new t(r.message,i,{hint:a,status:n})}async function i(e,i,a,s,c,l){for(let u=0;;u++){let d=await o(a,e,{method:`POST`,headers:{"content-type":`application/json`,accept:`application/json`,authorization:`Bearer ${await i.get()}`},body:JSON.stringify({query:s,variables:c}),signal:l});if(d.status===401&&u===0){i.invalidate();continue}let f=await d.json().catch(()=>null);if(f&&n(f.errors))throw r(f.errors,d.status);if(!d.ok||!f||f.data===void 0||f.data===null)throw new t(`the server answered ${d.status}`,`HTTP_ERROR`,{status:d.status});return f.data}}async function a(e,n,r,i){for(let a=0;;a++){let s=await o(r,e,{headers:{accept:`application/json`,authorization:`Bearer ${await n.get()}`},signal:i});if(s.status===401&&a===0){n.invalidate();continue}let c=await s.json().catch(()=>null);if(c&&c.success)return c.data;throw c&&!c.success?new t(c.error.message,c.error.code,{hint:c.error.hint,status:s.status}):new t(`the server answered ${s.status}`,`HTTP_ERROR`,{status:s.status})}}async function o(e,n,r){try{return await e(n,r)}catch(e){throw r.signal?.aborted?e:new t(`could not reach ${n}: ${String(e)}`,`NETWORK`,{hint:`check that the server runs and the URL is right`})}}var s=class{makeDirect;tabId=`${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;channel;leaderId=null;leaderConnected=!1;isLeader=!1;direct;directOff;local=new Map;remote=new Map;listeners=new Set;releaseLock;nextId=0;disposed=!1;constructor(e,t){this.makeDirect=t,this.channel=new BroadcastChannel(`agentwire:${e}`),this.channel.onmessage=e=>this.receive(e.data),navigator.locks.request(`agentwire-leader:${e}`,()=>{if(!this.disposed)return this.becomeLeader(),new Promise(e=>this.releaseLock=e)}),this.post({t:`hello`,from:this.tabId})}get leader(){return this.isLeader}get connected(){return this.isLeader?this.direct?.connected??!1:this.leaderConnected}onConnection(e){return this.listeners.add(e),()=>this.listeners.delete(e)}subscribe(e,t){if(this.isLeader&&this.direct)return this.direct.subscribe(e,t);let n=String(++this.nextId),r={request:e,sink:t,sentTo:null};return this.local.set(n,r),this.send(n,r),()=>{this.local.delete(n)&&r.sentTo&&this.post({t:`unsub`,from:this.tabId,id:n})}}dispose(){this.disposed=!0;for(let e of this.remote.values())e();this.remote.clear(),this.directOff?.(),this.direct?.dispose(),this.releaseLock?.(),this.channel.close()}send(e,t){this.leaderId&&(t.sentTo=this.leaderId,this.post({t:`sub`,from:this.tabId,to:this.leaderId,id:e,request:t.request}))}becomeLeader(){this.isLeader=!0,this.leaderId=this.tabId,this.direct=this.makeDirect(),this.directOff=this.direct.onConnection(e=>{this.post({t:`conn`,from:this.tabId,connected:e}),this.notify(e)}),this.loseRouted(()=>!0),this.post({t:`leader`,from:this.tabId,connected:!1})}loseRouted(e){for(let[t,n]of[...this.local])e(n)&&(n.sentTo!==null||this.isLeader)&&(this.local.delete(t),n.sink.end({kind:`lost`,reason:`the tab holding the socket went away`}))}receive(e){if(!this.disposed)switch(e.t){case`hello`:this.isLeader&&this.post({t:`leader`,from:this.tabId,connected:this.connected});return;case`leader`:if(this.isLeader||e.from===this.leaderId)return;this.loseRouted(t=>t.sentTo!==null&&t.sentTo!==e.from),this.leaderId=e.from,this.setLeaderConnected(e.connected);for(let[e,t]of this.local)t.sentTo===null&&this.send(e,t);return;case`conn`:e.from===this.leaderId&&!this.isLeader&&this.setLeaderConnected(e.connected);return;case`sub`:this.isLeader&&this.direct&&e.to===this.tabId&&this.serve(e.from,e.id,e.request);return;case`unsub`:{let t=`${e.from}:${e.id}`;this.remote.get(t)?.(),this.remote.delete(t);return}case`next`:e.to===this.tabId&&this.local.get(e.id)?.sink.next(e.payload);return;case`end`:if(e.to!==this.tabId)return;this.local.get(e.id)?.sink.end(e.end),this.local.delete(e.id);return}}serve(e,t,n){let r=`${e}:${t}`;this.remote.get(r)?.();let i=this.direct.subscribe(n,{next:n=>this.post({t:`next`,to:e,id:t,payload:n}),end:n=>{this.remote.delete(r),this.post({t:`end`,to:e,id:t,end:JSON.parse(JSON.stringify(n))})}});this.remote.set(r,i)}setLeaderConnected(e){this.leaderConnected!==e&&(this.leaderConnected=e,this.notify(e))}notify(e){for(let t of[...this.listeners])t(e)}post(e){try{this.channel.postMessage(e)}catch{}}};function c(){return typeof BroadcastChannel<`u`&&typeof navigator<`u`&&navigator.locks!==void 0&&typeof window<`u`}var l=class{fixed;getToken;refreshBeforeSeconds;cached;pending;constructor(e,t,n=30){if(this.fixed=e,this.getToken=t,this.refreshBeforeSeconds=n,!e&&!t)throw TypeError(`createClient needs a token or getToken`)}async get(){return this.fixed!==void 0&&!this.getToken?this.fixed:(this.cached&&!d(this.cached,this.refreshBeforeSeconds)||(this.pending??=Promise.resolve(this.getToken?this.getToken():this.fixed).finally(()=>{this.pending=void 0}),this.cached=await this.pending),this.cached)}invalidate(){this.getToken&&(this.cached=void 0)}async subject(){let e=u(await this.get());return typeof e?.sub==`string`?e.sub:`anonymous`}};function u(e){let t=e.split(`.`)[1];if(t)try{let e=atob(t.replace(/-/g,`+`).replace(/_/g,`/`)),n=JSON.parse(e);return typeof n==`object`&&n?n:void 0}catch{return}}function d(e,t){let n=u(e)?.exp;return typeof n==`number`&&n-t<=Date.now()/1e3}function f(e){return e===null?`null`:Array.isArray(e)?`array`:typeof e}function p(e){return f(e)===`object`}function m(e){return Array.isArray(e)&&e.length>0&&e.every(e=>`message`in e)}function h(e,t){return e.length<124?e:t}var g=(e=>(e[e.InternalServerError=4500]=`InternalServerError`,e[e.InternalClientError=4005]=`InternalClientError`,e[e.BadRequest=4400]=`BadRequest`,e[e.BadResponse=4004]=`BadResponse`,e[e.Unauthorized=4401]=`Unauthorized`,e[e.Forbidden=4403]=`Forbidden`,e[e.SubprotocolNotAcceptable=4406]=`SubprotocolNotAcceptable`,e[e.ConnectionInitialisationTimeout=4408]=`ConnectionInitialisationTimeout`,e[e.ConnectionAcknowledgementTimeout=4504]=`ConnectionAcknowledgementTimeout`,e[e.SubscriberAlreadyExists=4409]=`SubscriberAlreadyExists`,e[e.TooManyInitialisationRequests=4429]=`TooManyInitialisationRequests`,e))(g||{}),_=(e=>(e.ConnectionInit=`connection_init`,e.ConnectionAck=`connection_ack`,e.Ping=`ping`,e.Pong=`pong`,e.Subscribe=`subscribe`,e.Next=`next`,e.Error=`error`,e.Complete=`complete`,e))(_||{});function v(e){if(!p(e))throw Error(`Message is expected to be an object, but got ${f(e)}`);if(!e.type)throw Error(`Message is missing the 'type' property`);if(typeof e.type!=`string`)throw Error(`Message is expects the 'type' property to be a string, but got ${f(e.type)}`);switch(e.type){case`connection_init`:case`connection_ack`:case`ping`:case`pong`:if(e.payload!=null&&!p(e.payload))throw Error(`"${e.type}" message expects the 'payload' property to be an object or nullish or missing, but got "${e.payload}"`);break;case`subscribe`:if(typeof e.id!=`string`)throw Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw Error(`"${e.type}" message requires a non-empty 'id' property`);if(!p(e.payload))throw Error(`"${e.type}" message expects the 'payload' property to be an object, but got ${f(e.payload)}`);if(typeof e.payload.query!=`string`)throw Error(`"${e.type}" message payload expects the 'query' property to be a string, but got ${f(e.payload.query)}`);if(e.payload.variables!=null&&!p(e.payload.variables))throw Error(`"${e.type}" message payload expects the 'variables' property to be a an object or nullish or missing, but got ${f(e.payload.variables)}`);if(e.payload.operationName!=null&&f(e.payload.operationName)!==`string`)throw Error(`"${e.type}" message payload expects the 'operationName' property to be a string or nullish or missing, but got ${f(e.payload.operationName)}`);if(e.payload.extensions!=null&&!p(e.payload.extensions))throw Error(`"${e.type}" message payload expects the 'extensions' property to be a an object or nullish or missing, but got ${f(e.payload.extensions)}`);break;case`next`:if(typeof e.id!=`string`)throw Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw Error(`"${e.type}" message requires a non-empty 'id' property`);if(!p(e.payload))throw Error(`"${e.type}" message expects the 'payload' property to be an object, but got ${f(e.payload)}`);break;case`error`:if(typeof e.id!=`string`)throw Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw Error(`"${e.type}" message requires a non-empty 'id' property`);if(!m(e.payload))throw Error(`"${e.type}" message expects the 'payload' property to be an array of GraphQL errors, but got ${JSON.stringify(e.payload)}`);break;case`complete`:if(typeof e.id!=`string`)throw Error(`"${e.type}" message expects the 'id' property to be a string, but got ${f(e.id)}`);if(!e.id)throw Error(`"${e.type}" message requires a non-empty 'id' property`);break;default:throw Error(`Invalid message 'type' property "${e.type}"`)}return e}function y(e,t){return v(typeof e==`string`?JSON.parse(e,t):e)}function b(e,t){return v(e),JSON.stringify(e,t)}function x(e){let{url:t,connectionParams:n,lazy:r=!0,onNonLazyError:i=console.error,lazyCloseTimeout:a=0,keepAlive:o=0,disablePong:s,connectionAckWaitTimeout:c=0,retryAttempts:l=5,retryWait:u=async function(e){let t=2**e;await new Promise(e=>setTimeout(e,t*1e3+Math.floor(Math.random()*2700+300)))},shouldRetry:d=C,on:f,webSocketImpl:p,generateID:m=function(){return`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.replace(/[xy]/g,e=>{let t=Math.random()*16|0;return(e==`x`?t:t&3|8).toString(16)})},jsonMessageReplacer:v,jsonMessageReviver:x}=e,E;if(p){if(!T(p))throw Error(`Invalid WebSocket implementation provided`);E=p}else typeof WebSocket<`u`?E=WebSocket:typeof global<`u`?E=global.WebSocket||global.MozWebSocket:typeof window<`u`&&(E=window.WebSocket||window.MozWebSocket);if(!E)throw Error("WebSocket implementation missing; on Node you can `import WebSocket from 'ws';` and pass `webSocketImpl: WebSocket` to `createClient`");let D=E,O=(()=>{let e=(()=>{let e={};return{on(t,n){return e[t]=n,()=>{delete e[t]}},emit(t){`id`in t&&e[t.id]?.(t)}}})(),t={connecting:f?.connecting?[f.connecting]:[],opened:f?.opened?[f.opened]:[],connected:f?.connected?[f.connected]:[],ping:f?.ping?[f.ping]:[],pong:f?.pong?[f.pong]:[],message:f?.message?[e.emit,f.message]:[e.emit],closed:f?.closed?[f.closed]:[],error:f?.error?[f.error]:[]};return{onMessage:e.on,on(e,n){let r=t[e];return r.push(n),()=>{let e=r.indexOf(n);e>-1&&r.splice(e,1)}},emit(e,...n){for(let r of[...t[e]])r(...n)}}})();function k(e){let t=[O.on(`error`,n=>{t.forEach(e=>e()),e(n)}),O.on(`closed`,n=>{t.forEach(e=>e()),e(n)})];return()=>t.forEach(e=>e())}let A,j=0,M,N=!1,P=0,F=!1;async function I(){clearTimeout(M);let[e,r]=await(A??=new Promise((e,r)=>(async()=>{if(N){if(await u(P),!j)return A=void 0,r({code:1e3,reason:`All Subscriptions Gone`});P++}O.emit(`connecting`,N);let i=new D(typeof t==`function`?await t():t,`graphql-transport-ws`),a,l;function d(){isFinite(o)&&o>0&&(clearTimeout(l),l=setTimeout(()=>{i.readyState===D.OPEN&&(i.send(b({type:_.Ping})),O.emit(`ping`,!1,void 0))},o))}k(e=>{A=void 0,clearTimeout(a),clearTimeout(l),r(e),e instanceof S&&(i.close(4499,`Terminated`),i.onerror=null,i.onclose=null)}),i.onerror=e=>O.emit(`error`,e),i.onclose=e=>O.emit(`closed`,e),i.onopen=async()=>{try{O.emit(`opened`,i);let e=typeof n==`function`?await n():n;if(i.readyState!==D.OPEN)return;i.send(b(e?{type:_.ConnectionInit,payload:e}:{type:_.ConnectionInit},v)),isFinite(c)&&c>0&&(a=setTimeout(()=>{i.close(g.ConnectionAcknowledgementTimeout,`Connection acknowledgement timeout`)},c)),d()}catch(e){O.emit(`error`,e),i.close(g.InternalClientError,h(e instanceof Error?e.message:String(e),`Internal client error`))}};let f=!1;i.onmessage=({data:t})=>{try{let n=y(t,x);if(O.emit(`message`,n),n.type===`ping`||n.type===`pong`){O.emit(n.type,!0,n.payload),n.type===`pong`?d():s||(i.send(b(n.payload?{type:_.Pong,payload:n.payload}:{type:_.Pong},v)),O.emit(`pong`,!1,n.payload));return}if(f)return;if(n.type!==_.ConnectionAck)throw Error(`First message cannot be of type ${n.type}`);clearTimeout(a),f=!0,O.emit(`connected`,i,n.payload,N),N=!1,P=0;let r=new Promise((e,t)=>k(t));r.catch(()=>{}),e([i,r])}catch(e){i.onmessage=null,O.emit(`error`,e),i.close(g.BadResponse,h(e instanceof Error?e.message:String(e),`Bad response`))}}})()));e.readyState===D.CLOSING&&await r;let i=()=>{},l=new Promise(e=>i=e);return[e,i,new Promise((t,n)=>{let i=k(n);e.readyState!==D.OPEN&&r.catch(n),l.then(()=>{if(i(),!j){let t=()=>e.close(1e3,`Normal Closure`);isFinite(a)&&a>0?(clearTimeout(M),M=setTimeout(()=>{!j&&e.readyState===D.OPEN&&t()},a)):t()}t()})})]}function L(e){if(C(e)&&(w(e.code)||[g.InternalServerError,g.InternalClientError,g.BadRequest,g.BadResponse,g.Unauthorized,g.SubprotocolNotAcceptable,g.SubscriberAlreadyExists,g.TooManyInitialisationRequests].includes(e.code)))throw e;if(F)return!1;if(C(e)&&e.code===1e3)return j>0;if(!l||P>=l||!d(e))throw e;return N=!0}r||(async()=>{for(j++;;)try{let[,,e]=await I();await e}catch(e){try{if(!L(e))return}catch(e){return i?.(e)}}})();function R(e,t){let n=m(e),r=!1,i=!1,a=()=>{j--,r=!0};return(async()=>{for(j++;;)try{let[o,s,c]=await I();if(r)return c.catch(()=>{}),s();let l=O.onMessage(n,e=>{switch(e.type){case _.Next:t.next(e.payload);return;case _.Error:i=!0,r=!0,t.error(e.payload),a();return;case _.Complete:r=!0,a();return}});o.send(b({id:n,type:_.Subscribe,payload:e},v)),a=()=>{!r&&o.readyState===D.OPEN&&o.send(b({id:n,type:_.Complete},v)),j--,r=!0,s()},await c.finally(l);return}catch(e){if(!L(e))return}})().then(()=>{i||t.complete()}).catch(e=>{t.error(e)}),()=>{r||a()}}return{on:O.on,subscribe:R,iterate(e){let t=[],n={done:!1,error:null,resolve:()=>{}},r=R(e,{next(e){t.push(e),n.resolve()},error(e){n.done=!0,n.error=e,n.resolve()},complete(){n.done=!0,n.resolve()}}),i=async function*(){for(;;){for(t.length||await new Promise(e=>n.resolve=e);t.length;)yield t.shift();if(n.error)throw n.error;if(n.done)return}}();return i.throw=async e=>(n.done||(n.done=!0,n.error=e,n.resolve()),{done:!0,value:void 0}),i.return=async()=>(r(),{done:!0,value:void 0}),i},async dispose(){if(F=!0,A){let[e]=await A;e.close(1e3,`Normal Closure`)}},terminate(){A&&O.emit(`closed`,new S)}}}var S=class extends Error{name=`TerminatedCloseEvent`;message=`4499: Terminated`;code=4499;reason=`Terminated`;wasClean=!1};function C(e){return p(e)&&`code`in e&&`reason`in e}function w(e){return![1e3,1001,1006,1005,1012,1013,1014].includes(e)&&e>=1e3&&e<=1999}function T(e){return typeof e==`function`&&`constructor`in e&&`CLOSED`in e&&`CLOSING`in e&&`CONNECTING`in e&&`OPEN`in e}var E=class{options;ws=null;listeners=new Set;isConnected=!1;disposed=!1;constructor(e){this.options=e}get connected(){return this.isConnected}onConnection(e){return this.listeners.add(e),()=>this.listeners.delete(e)}subscribe(e,t){if(this.disposed)return queueMicrotask(()=>t.end({kind:`lost`,reason:`client closed`})),()=>{};let n=!1,r=e=>{n||(n=!0,t.end(e))},i=this.client().subscribe(e,{next:e=>{n||t.next(e)},error:e=>{r(Array.isArray(e)?{kind:`refused`,errors:e}:D(e))},complete:()=>r({kind:`lost`,reason:`socket closed`})});return()=>{n=!0,i()}}dispose(){this.disposed=!0,this.ws?.dispose(),this.ws=null,this.setConnected(!1)}client(){if(this.ws)return this.ws;let{url:e,tokens:t,webSocketImpl:n}=this.options,r=x({url:e,lazy:!0,lazyCloseTimeout:this.options.lazyCloseMs??2e3,retryAttempts:0,shouldRetry:()=>!1,webSocketImpl:n??globalThis.WebSocket,connectionParams:async()=>({authorization:`Bearer ${await t.get()}`}),on:{connected:()=>{this.ws===r&&this.setConnected(!0)},closed:e=>{e?.code===4403&&t.invalidate(),this.ws===r&&(this.ws=null,this.setConnected(!1),r.dispose())}}});return this.ws=r,r}setConnected(e){if(e!==this.isConnected){this.isConnected=e;for(let t of[...this.listeners])t(e)}}};function D(e){let t=e;return{kind:`lost`,code:typeof t?.code==`number`?t.code:void 0,reason:typeof t?.reason==`string`?t.reason:e instanceof Error?e.message:void 0}}function O(e,t={},n=Math.random){let r=t.initialMs??500,i=t.maxMs??15e3,a=Math.min(i,r*2**Math.max(0,e));return Math.floor(n()*a)}function k(e,t){return new Promise(n=>{if(t?.aborted)return n();let r=setTimeout(i,e);function i(){clearTimeout(r),t?.removeEventListener(`abort`,i),n()}t?.addEventListener(`abort`,i,{once:!0})})}var A=class{feedOptions;statusValue=`connecting`;listeners=new Map;iterators=new Set;backlog=[];stopCurrent;pollAbort;closedSignal=new AbortController;ready;readyResolve;constructor(e){this.feedOptions=e,this.ready=new Promise(e=>this.readyResolve=e)}get status(){return this.statusValue}whenReady(){return this.ready}on(e,t){let n=this.listeners.get(e);return n||this.listeners.set(e,n=new Set),n.add(t),()=>n.delete(t)}get events(){let e=this.backlog??[];this.backlog=null;let t,n=this.statusValue===`closed`,r=r=>{r===null?n=!0:e.push(r),t?.()};this.iterators.add(r);let i={[Symbol.asyncIterator]:()=>i,next:async()=>{for(;e.length===0&&!n;)await new Promise(e=>t=e);let i=e.shift();return i?{value:i,done:!1}:(this.iterators.delete(r),{value:void 0,done:!0})},return:async()=>(this.iterators.delete(r),n=!0,{value:void 0,done:!0})};return i}close(){if(this.statusValue!==`closed`){this.closedSignal.abort(),this.stopCurrent?.(),this.pollAbort?.abort(),this.setStatus(`closed`);for(let e of this.iterators)e(null);this.iterators.clear()}}start(){this.run()}deliver(e){if(this.statusValue!==`closed`&&this.accept(e)){this.readyResolve(),this.backlog?.push(e),this.backlog&&this.backlog.length>1e4&&this.backlog.shift();for(let t of this.iterators)t(e);this.emit(e.type.toLowerCase(),e),this.emit(`event`,e)}}fail(e){this.emit(`error`,e),this.close()}emit(e,t){for(let n of[...this.listeners.get(e)??[]])try{n(t)}catch(e){queueMicrotask(()=>{throw e})}}setStatus(e){e!==this.statusValue&&this.statusValue!==`closed`&&(this.statusValue=e,this.emit(`status`,e))}async run(){let e=this.closedSignal.signal,i=0,a=!1;for(;!e.aborted;){this.pollAbort||this.setStatus(a?`reconnecting`:`connecting`);let o=await this.subscribeOnce();if(e.aborted)return;if(o.kind===`refused`){let e=o.errors;this.fail(n(e)?r(e):new t(`subscription refused`,`REFUSED`));return}o.opened?(a=!0,i=0):i+=1,!o.opened&&this.poll&&!this.pollAbort&&i>=(this.feedOptions.pollAfterFailures??2)&&this.startPolling(),await k(O(i,this.feedOptions.backoff),e)}}startPolling(){let e=this.pollAbort=new AbortController;this.setStatus(`polling`),(async()=>{let n=0;for(;!e.signal.aborted;)try{await this.poll?.(e.signal);return}catch(r){if(e.signal.aborted)return;if(r instanceof t&&(r.code===`NOT_FOUND`||r.code===`FORBIDDEN`)){this.fail(r);return}await k(O(++n,this.feedOptions.backoff),e.signal)}})()}stopPolling(){this.pollAbort?.abort(),this.pollAbort=void 0}subscribeOnce(){let e=this.feedOptions.transport;return new Promise(t=>{let r=!1,i=!1,a=()=>{r||i||(r=!0,this.stopPolling(),this.setStatus(`open`))},o=e=>{i||(i=!0,s(),t(e))},s=e.onConnection(e=>{e&&a()}),c=e.subscribe(this.request(),{next:e=>{if(n(e.errors)){c(),o({kind:`refused`,errors:e.errors});return}a();let t=e.data?.[this.field];t&&this.deliver(t)},end:e=>o(e.kind===`refused`?e:{kind:`lost`,opened:r})});e.connected&&a(),this.stopCurrent=()=>{c(),o({kind:`lost`,opened:r})}})}},j=new Set([`COMPLETED`,`SKIPPED`,`ROLLED_BACK`]);function M(e,t){let n=t.data,r={...e,steps:e.steps.map(e=>({...e}))};t.seq!==null&&(r.lastSeq=t.seq),n.status&&(r.status=n.status),n.status&&n.status!==`PENDING`&&(r.queuePosition=null,r.estimatedWaitTime=null);let i=n.step?r.steps.find(e=>e.id===n.step?.id):void 0;switch(i&&n.step&&(n.step.status&&(i.status=n.step.status),n.step.progress!==null&&(i.progress=n.step.progress)),t.type){case`STEP_COMPLETE`:i&&(i.result=n.result);break;case`COMPLETED`:r.result=n.result;break;case`ERROR`:r.error=n.error;break;case`QUEUE_UPDATE`:r.queuePosition=n.queuePosition,r.estimatedWaitTime=n.estimatedWaitTime;break;case`APPROVAL_REQUEST`:case`APPROVAL_RESOLVED`:case`APPROVAL_TIMEOUT`:N(r,t)}n.message&&t.type!==`QUEUE_UPDATE`&&(r.logs=[...e.logs,{level:t.type===`ERROR`?`error`:`info`,message:n.message,stepId:n.step?.id??null}]),r.progress=P(r);let a=r.steps.find(e=>e.status===`RUNNING`||e.status===`AWAITING_APPROVAL`);return r.currentStep=a?{id:a.id,name:a.name,status:a.status,progress:a.progress}:null,r}function N(e,t){let n=t.data.approvalRequest;if(!n)return;let r=e.approvals.find(e=>e.id===n.id),i=n.expiresAt??r?.expiresAt??``,a={id:n.id,stepId:n.stepId,status:n.status,prompt:n.prompt,parameters:n.parameters,modifiedParameters:n.modifiedParameters,decidedBy:n.decidedBy,decisionMessage:n.message,expiresAt:i};e.approvals=r?e.approvals.map(e=>e.id===n.id?a:e):[...e.approvals,a],n.status===`PENDING`?e.pendingApproval={id:n.id,stepId:n.stepId,prompt:n.prompt,parameters:n.parameters,expiresAt:i}:e.pendingApproval?.id===n.id&&(e.pendingApproval=null)}function P(e){if(e.steps.length===0)return+(e.status===`COMPLETED`);let t=e.steps.filter(e=>j.has(e.status)).length,n=e.steps.filter(e=>e.status===`RUNNING`).reduce((e,t)=>e+t.progress,0);return Math.round(Math.min((t+n)/e.steps.length,1)*1e4)/1e4}function F(e){let t=e=>typeof e==`string`?e.toUpperCase():e??null,n={...e.data};for(let e of[`status`,`previousStatus`])e in n&&(n[e]=t(n[e]));if(n.step&&typeof n.step==`object`){let e={...n.step};e.status=t(e.status),n.step=e}if(n.approvalRequest&&typeof n.approvalRequest==`object`){let e={...n.approvalRequest};e.status=t(e.status),n.approvalRequest=e}let r=[`taskId`,`status`,`previousStatus`,`step`,`progress`,`message`,`approvalRequest`,`result`,`error`,`queuePosition`,`estimatedWaitTime`,`resumeAfter`],i={};for(let e of r)i[e]=n[e]??null;return{id:String(e.id),version:Number(e.version??1),type:t(e.type),seq:typeof e.seq==`number`?e.seq:null,timestamp:Number(e.timestamp),priority:t(e.priority),cursor:typeof e.cursor==`string`?e.cursor:null,data:i}}var I=class extends A{options;field=`taskUpdates`;current;lastSeq;constructor(e){super(e),this.options=e;let t=e.storage?.getItem(e.storageKey);if(t)try{let n=JSON.parse(t);typeof n.seq==`number`&&n.state?.id===e.taskId&&(this.lastSeq=n.seq,this.current=n.state)}catch{e.storage?.removeItem(e.storageKey)}e.pollEvents&&(this.poll=e=>this.pollLoop(e)),this.start()}get taskId(){return this.options.taskId}get state(){return this.current}get seq(){return this.lastSeq}request(){let e={taskId:this.options.taskId};return this.lastSeq!==void 0&&this.current&&(e.after=this.lastSeq),{query:`subscription TaskSnapshot($taskId: ID!, $after: Int) {
  taskUpdates(taskId: $taskId, after: $after) {
    ...EventFields
    data {
      task {
        ...TaskFields
      }
      approvalRequest {
        expiresAt
        onTimeout
      }
    }
  }
}

fragment EventFields on TaskEvent {
  id
  version
  type
  seq
  timestamp
  priority
  cursor
  data {
    taskId
    status
    previousStatus
    step {
      id
      name
      position
      status
      progress
    }
    progress
    message
    approvalRequest {
      id
      stepId
      status
      prompt
      parameters
      modifiedParameters
      decidedBy
      decidedAt
      message
    }
    result
    error
    queuePosition
    estimatedWaitTime
    resumeAfter
  }
}

fragment TaskFields on Task {
  id
  task
  status
  priority
  conversationId
  context
  createdAt
  startedAt
  finishedAt
  queuePosition
  estimatedWaitTime
  progress
  artifacts
  result
  error
  lastSeq
  currentStep {
    id
    name
    status
    progress
  }
  steps {
    id
    position
    name
    action
    params
    requiresApproval
    reversibility
    status
    progress
    result
  }
  approvals {
    id
    stepId
    status
    prompt
    parameters
    modifiedParameters
    decidedBy
    decisionMessage
    expiresAt
  }
  pendingApproval {
    id
    stepId
    prompt
    parameters
    expiresAt
  }
  logs {
    level
    message
    stepId
  }
}`,variables:e}}accept(e){if(e.type===`SNAPSHOT`){let t=e.data.task;if(!t||this.lastSeq!==void 0&&e.seq!==null&&e.seq<this.lastSeq)return!1;this.current=t,this.lastSeq=e.seq??t.lastSeq}else if(e.seq===null)this.current&&e.type===`QUEUE_UPDATE`&&(this.current=M(this.current,e));else{if(this.lastSeq!==void 0&&e.seq<=this.lastSeq)return!1;this.lastSeq=e.seq,this.current&&=M(this.current,e)}return this.save(),!0}close(){super.close()}forget(){this.options.storage?.removeItem(this.options.storageKey)}save(){if(this.options.storage&&this.lastSeq!==void 0&&this.current)try{this.options.storage.setItem(this.options.storageKey,JSON.stringify({seq:this.lastSeq,state:this.current}))}catch{}}async pollLoop(e){if(!this.current&&this.options.fetchTask){let t=await this.options.fetchTask(e);if(e.aborted)return;t&&this.deliver({id:`poll-snapshot-${t.lastSeq}`,version:1,type:`SNAPSHOT`,seq:t.lastSeq,timestamp:Date.now(),priority:`CRITICAL`,cursor:null,data:R(t.id,t.status,{task:t})})}for(;!e.aborted&&this.options.pollEvents;){let t=await this.options.pollEvents(this.lastSeq??0,e);if(e.aborted)return;for(let e of t)this.deliver(F(e))}}},L=class extends A{options;field=`myTaskUpdates`;tasks=new Map;cursor;seen=new Set;constructor(e){super(e),this.options=e,this.cursor=e.storage?.getItem(e.storageKey)??void 0,this.start()}get state(){return this.tasks}request(){return{query:`subscription MyTaskUpdates($after: String) {
  myTaskUpdates(after: $after) {
    ...EventFields
  }
}

fragment EventFields on TaskEvent {
  id
  version
  type
  seq
  timestamp
  priority
  cursor
  data {
    taskId
    status
    previousStatus
    step {
      id
      name
      position
      status
      progress
    }
    progress
    message
    approvalRequest {
      id
      stepId
      status
      prompt
      parameters
      modifiedParameters
      decidedBy
      decidedAt
      message
    }
    result
    error
    queuePosition
    estimatedWaitTime
    resumeAfter
  }
}`,variables:this.cursor?{after:this.cursor}:{}}}accept(e){let t=e.data.taskId,n=this.tasks.get(t);if(e.seq!==null&&n?.lastSeq!=null&&e.seq<=n.lastSeq||this.seen.has(e.id))return!1;this.seen.add(e.id),this.seen.size>5e3&&this.seen.delete(this.seen.values().next().value);let r={...n??{taskId:t,status:null,queuePosition:null,estimatedWaitTime:null,lastSeq:null}};if(e.data.status&&(r.status=e.data.status),e.type===`QUEUE_UPDATE`?(r.queuePosition=e.data.queuePosition,r.estimatedWaitTime=e.data.estimatedWaitTime):r.status!==`PENDING`&&(r.queuePosition=null,r.estimatedWaitTime=null),e.seq!==null&&(r.lastSeq=e.seq),this.tasks.set(t,r),e.cursor&&e.type!==`QUEUE_UPDATE`){this.cursor=e.cursor;try{this.options.storage?.setItem(this.options.storageKey,e.cursor)}catch{}}return!0}};function R(e,t,n){return{taskId:e,status:t,previousStatus:null,step:null,progress:null,message:null,approvalRequest:null,result:null,error:null,queuePosition:null,estimatedWaitTime:null,resumeAfter:null,...n}}function ee(t){let n=t.url.replace(/\/+$/,``).replace(/\/graphql$/,``),r=`${n}/graphql`,o=t.wsUrl??r.replace(/^http/,`ws`),u=new l(t.token,t.getToken),d=t.fetch??((e,t)=>globalThis.fetch(e,t)),f=t.storage===null?void 0:t.storage??(typeof sessionStorage<`u`?sessionStorage:void 0),p=()=>new E({url:o,tokens:u,webSocketImpl:t.webSocketImpl}),m=(t.shareAcrossTabs??!0)&&c(),h,g,_=()=>g||(g=m?h=new s(o,p):p(),g),v=new Set,y=(e,t)=>i(r,u,d,e,t),b=()=>({transport:_(),backoff:t.backoff,pollAfterFailures:t.pollAfterFailures});return{submitTask:async e=>(await y(`mutation SubmitTask($input: SubmitTaskInput!) {
  submitTask(input: $input) {
    ...TaskFields
  }
}

fragment TaskFields on Task {
  id
  task
  status
  priority
  conversationId
  context
  createdAt
  startedAt
  finishedAt
  queuePosition
  estimatedWaitTime
  progress
  artifacts
  result
  error
  lastSeq
  currentStep {
    id
    name
    status
    progress
  }
  steps {
    id
    position
    name
    action
    params
    requiresApproval
    reversibility
    status
    progress
    result
  }
  approvals {
    id
    stepId
    status
    prompt
    parameters
    modifiedParameters
    decidedBy
    decisionMessage
    expiresAt
  }
  pendingApproval {
    id
    stepId
    prompt
    parameters
    expiresAt
  }
  logs {
    level
    message
    stepId
  }
}`,{input:e})).submitTask,task:async t=>(await y(e,{id:t})).task,tasks:async(e={})=>(await y(`query ListTasks($status: TaskStatus, $conversationId: String, $dateFrom: DateTime, $dateTo: DateTime, $first: Int! = 20, $after: String) {
  tasks(
    status: $status
    conversationId: $conversationId
    dateFrom: $dateFrom
    dateTo: $dateTo
    first: $first
    after: $after
  ) {
    totalCount
    pageInfo {
      hasNextPage
      endCursor
    }
    edges {
      cursor
      node {
        id
        task
        status
        priority
        conversationId
        createdAt
      }
    }
  }
}`,e)).tasks,approve:async e=>(await y(`mutation Approve($input: ApproveInput!) {
  approve(input: $input) {
    ...TaskFields
  }
}

fragment TaskFields on Task {
  id
  task
  status
  priority
  conversationId
  context
  createdAt
  startedAt
  finishedAt
  queuePosition
  estimatedWaitTime
  progress
  artifacts
  result
  error
  lastSeq
  currentStep {
    id
    name
    status
    progress
  }
  steps {
    id
    position
    name
    action
    params
    requiresApproval
    reversibility
    status
    progress
    result
  }
  approvals {
    id
    stepId
    status
    prompt
    parameters
    modifiedParameters
    decidedBy
    decisionMessage
    expiresAt
  }
  pendingApproval {
    id
    stepId
    prompt
    parameters
    expiresAt
  }
  logs {
    level
    message
    stepId
  }
}`,{input:e})).approve,approveBatch:async(e,t={})=>(await y(`mutation ApproveBatch($input: ApproveBatchInput!) {
  approveBatch(input: $input) {
    batchId
    atomic
    replayed
    results {
      approvalId
      taskId
      ok
      error {
        code
        message
      }
    }
    tasks {
      id
      status
      artifacts
      approvals {
        id
        stepId
        status
        decidedBy
        decisionMessage
        modifiedParameters
      }
    }
  }
}`,{input:{decisions:e,...t}})).approveBatch,undo:async(e,t=null)=>(await y(`mutation Undo($taskId: ID!, $stepId: ID) {
  undo(taskId: $taskId, stepId: $stepId) {
    ...TaskFields
  }
}

fragment TaskFields on Task {
  id
  task
  status
  priority
  conversationId
  context
  createdAt
  startedAt
  finishedAt
  queuePosition
  estimatedWaitTime
  progress
  artifacts
  result
  error
  lastSeq
  currentStep {
    id
    name
    status
    progress
  }
  steps {
    id
    position
    name
    action
    params
    requiresApproval
    reversibility
    status
    progress
    result
  }
  approvals {
    id
    stepId
    status
    prompt
    parameters
    modifiedParameters
    decidedBy
    decisionMessage
    expiresAt
  }
  pendingApproval {
    id
    stepId
    prompt
    parameters
    expiresAt
  }
  logs {
    level
    message
    stepId
  }
}`,{taskId:e,stepId:t})).undo,undoPlan:async(e,t=null)=>(await y(`query UndoPlan($taskId: ID!, $stepId: ID) {
  undoPlan(taskId: $taskId, stepId: $stepId) {
    possible
    reason
    hint
    steps {
      id
      name
      status
    }
  }
}`,{taskId:e,stepId:t})).undoPlan,cancelTask:async e=>(await y(`mutation CancelTask($taskId: ID!, $mode: CancelMode) {
  cancelTask(taskId: $taskId, mode: $mode) {
    ...TaskFields
  }
}

fragment TaskFields on Task {
  id
  task
  status
  priority
  conversationId
  context
  createdAt
  startedAt
  finishedAt
  queuePosition
  estimatedWaitTime
  progress
  artifacts
  result
  error
  lastSeq
  currentStep {
    id
    name
    status
    progress
  }
  steps {
    id
    position
    name
    action
    params
    requiresApproval
    reversibility
    status
    progress
    result
  }
  approvals {
    id
    stepId
    status
    prompt
    parameters
    modifiedParameters
    decidedBy
    decisionMessage
    expiresAt
  }
  pendingApproval {
    id
    stepId
    prompt
    parameters
    expiresAt
  }
  logs {
    level
    message
    stepId
  }
}`,{taskId:e})).cancelTask,taskEvents:async(e,{after:t=0,limit:n=100}={})=>(await y(`query TaskEvents($taskId: ID!, $after: Int = 0, $limit: Int = 100) {
  taskEvents(taskId: $taskId, after: $after, limit: $limit) {
    ...EventFields
  }
}

fragment EventFields on TaskEvent {
  id
  version
  type
  seq
  timestamp
  priority
  cursor
  data {
    taskId
    status
    previousStatus
    step {
      id
      name
      position
      status
      progress
    }
    progress
    message
    approvalRequest {
      id
      stepId
      status
      prompt
      parameters
      modifiedParameters
      decidedBy
      decidedAt
      message
    }
    result
    error
    queuePosition
    estimatedWaitTime
    resumeAfter
  }
}`,{taskId:e,after:t,limit:n})).taskEvents,approvals:async(e={})=>(await y(`query Approvals($status: ApprovalStatus, $first: Int = 20, $after: String) {
  approvals(status: $status, first: $first, after: $after) {
    edges {
      cursor
      node {
        id
        taskId
        stepId
        status
        prompt
        parameters
        modifiedParameters
        decidedBy
        required
        roles
        allowSelf
        expiresAt
        remainingSeconds
        decisions {
          by
          decision
          message
          parametersBefore
          parametersAfter
          at
        }
        task {
          id
          task
          status
        }
        step {
          id
          name
          action
          params
          status
        }
      }
    }
    pageInfo {
      hasNextPage
      endCursor
    }
  }
}`,e)).approvals,me:async()=>(await y(`query Me {
  me {
    id
    subject
    displayName
    roles
    isAdmin
  }
}`,{})).me,watch(r){let i=t.pollWaitSeconds??25,o=new I({...b(),taskId:r,storage:f,storageKey:`agentwire:${n}:task:${r}`,pollEvents:async(e,t)=>(await a(`${n}/api/agent/${encodeURIComponent(r)}/events?after=${e}&wait=${i}&limit=500`,u,d,t)).events,fetchTask:async()=>(await y(e,{id:r})).task});return v.add(o),o.on(`status`,e=>e===`closed`&&v.delete(o)),o},watchAll(){let e=new L({...b(),storage:f,storageKey:`agentwire:${n}:all`});return v.add(e),e.on(`status`,t=>t===`closed`&&v.delete(e)),e},get isSocketOwner(){return!h||h.leader},close(){for(let e of[...v])e.close();g?.dispose(),g=void 0}}}var z=e=>document.getElementById(e),B=`agentwire:monitor:token`,V=`agentwire:monitor:task`,te=[`COMPLETED`,`FAILED`,`CANCELLED`,`ROLLED_BACK`],H,U,W,G;function K(e,t={},n){let r=document.createElement(e);for(let[e,n]of Object.entries(t))r.setAttribute(e,n);return n!==void 0&&(r.textContent=n),r}function q(e,t){let n=t;z(e).textContent=n?.message?`${n.message}${n.hint?` (${n.hint})`:``}`:String(t)}async function J(e){z(`signin-error`).textContent=``;let t=ee({url:location.origin,token:e});try{await t.me()}catch(e){t.close(),q(`signin-error`,e);return}H=t,window.__agentwireSocketOwner=()=>t.isSocketOwner,sessionStorage.setItem(B,e),z(`signin`).hidden=!0,z(`app`).hidden=!1;let n=H.watchAll(),r;n.on(`event`,()=>{clearTimeout(r),r=setTimeout(()=>void Y(),150)}),await Y();let i=sessionStorage.getItem(V);i&&X(i)}async function Y(){if(!H)return;let e=z(`filter`).value,t=await H.tasks({status:e||null,first:20});z(`history`).replaceChildren(...t.edges.map(({node:e})=>{let t=K(`li`,{"data-testid":`task-row`,"data-task-id":e.id});return e.id===U?.taskId&&t.classList.add(`selected`),t.append(K(`span`,{},e.task),K(`span`,{class:`badge`,"data-testid":`task-status`},e.status)),t.addEventListener(`click`,()=>X(e.id)),t}))}function X(e){if(!H)return;U?.close(),G=void 0,sessionStorage.setItem(V,e);let t=U=H.watch(e);z(`detail`).hidden=!1,z(`detail`).dataset.seqs=``,z(`detail`).dataset.taskId=e,z(`undo-plan-box`).replaceChildren(),z(`detail-error`).textContent=``,Z(t.status),t.on(`status`,Z);let n=[];t.on(`event`,e=>{e.seq!==null&&n.push(e.seq),z(`detail`).dataset.seqs=n.join(`,`),Q(t)}),t.on(`error`,e=>q(`detail-error`,e)),Q(t);for(let t of document.querySelectorAll(`#history li`))t.classList.toggle(`selected`,t.dataset.taskId===e)}function Z(e){let t=document.querySelector(`[data-testid=connection-status]`);t.textContent=e,t.className=`conn ${e}`}function Q(e){if(e!==U)return;let t=e.state;if(!t)return;z(`detail-title`).textContent=t.task,z(`detail-status`).textContent=t.status;let n=z(`queue`);if(n.hidden=t.queuePosition===null,t.queuePosition!==null){let e=t.estimatedWaitTime===null?``:`, about ${Math.ceil(t.estimatedWaitTime)} s to start`;n.textContent=`Queue position ${t.queuePosition}${e}`}z(`task-progress`).value=t.progress,z(`steps`).replaceChildren(...t.steps.map(e=>{let t=K(`li`,{"data-testid":`step-row`,"data-step-id":e.id}),n=K(`div`,{class:`row`});n.append(K(`span`,{},e.name),K(`span`,{class:`badge`},e.status));let r=K(`progress`,{"data-testid":`step-progress`,max:`1`});return r.value=e.progress,t.append(n,r),t})),ne(t),z(`cancel`).disabled=te.includes(t.status),z(`undo`).disabled=![`COMPLETED`,`FAILED`,`CANCELLED`].includes(t.status),z(`logs`).replaceChildren(...t.logs.map(e=>K(`li`,{},`${e.level}: ${e.message}`)))}function ne(e){let t=z(`approval`),n=e.pendingApproval;if(!n){t.replaceChildren(),clearInterval(W);return}if(t.dataset.approvalId===n.id&&t.childElementCount)return;t.dataset.approvalId=n.id;let r=K(`div`,{class:`approval`,"data-testid":`approval-card`}),i=K(`p`,{"data-testid":`approval-countdown`}),a=K(`textarea`,{"data-testid":`edit-parameters`,rows:`4`,"aria-label":`Parameters`});a.value=JSON.stringify(n.parameters,null,2),a.addEventListener(`input`,()=>G=n.id);let o=K(`div`,{class:`actions`}),s=K(`button`,{"data-testid":`approve`},`Approve`),c=K(`button`,{"data-testid":`reject`,class:`secondary`},`Reject`);o.append(s,c),r.append(K(`strong`,{},n.prompt),i,a,o),t.replaceChildren(r);let l=()=>{let e=Math.max(0,Math.round((Date.parse(n.expiresAt)-Date.now())/1e3));i.textContent=`Expires in ${Math.floor(e/60)}:${String(e%60).padStart(2,`0`)}`};l(),clearInterval(W),W=setInterval(l,1e3);let u=async t=>{if(!H)return;z(`detail-error`).textContent=``;let r=null;if(t&&G===n.id)try{r=JSON.parse(a.value)}catch{z(`detail-error`).textContent=`The parameters are not valid JSON.`;return}try{await H.approve({taskId:e.id,approvalId:n.id,approved:t,modifiedParameters:r})}catch(e){q(`detail-error`,e)}};s.addEventListener(`click`,()=>void u(!0)),c.addEventListener(`click`,()=>void u(!1))}function re(e){let t=e.trim();if(t.startsWith(`{`)){let e=JSON.parse(t);if(typeof e.task!=`string`)throw Error(`a JSON submission needs a "task" string`);return e}return{task:t}}z(`signin-button`).addEventListener(`click`,()=>void J(z(`token`).value.trim())),z(`token`).addEventListener(`keydown`,e=>{e.key===`Enter`&&J(z(`token`).value.trim())}),z(`submit`).addEventListener(`click`,async()=>{if(H){z(`submit-error`).textContent=``;try{let e=await H.submitTask(re(z(`task-text`).value));z(`task-text`).value=``,X(e.id),await Y()}catch(e){q(`submit-error`,e)}}}),z(`filter`).addEventListener(`change`,()=>void Y()),z(`cancel`).addEventListener(`click`,async()=>{if(H&&U)try{await H.cancelTask(U.taskId)}catch(e){q(`detail-error`,e)}}),z(`undo`).addEventListener(`click`,async()=>{if(!H||!U)return;let e=U.taskId;try{let t=await H.undoPlan(e),n=K(`div`,{"data-testid":`undo-plan`,class:`approval`});if(!t.possible)n.append(K(`p`,{},`Undo is not possible: ${t.reason??``} ${t.hint??``}`));else{n.append(K(`p`,{},`Undo will roll back, in this order:`));let r=K(`ol`);r.append(...t.steps.map(e=>K(`li`,{},`${e.name} (${e.status})`)));let i=K(`button`,{"data-testid":`undo-confirm`},`Roll these back`);i.addEventListener(`click`,async()=>{try{await H?.undo(e),z(`undo-plan-box`).replaceChildren()}catch(e){q(`detail-error`,e)}}),n.append(r,i)}z(`undo-plan-box`).replaceChildren(n)}catch(e){q(`detail-error`,e)}});var $=sessionStorage.getItem(B);$&&J($);